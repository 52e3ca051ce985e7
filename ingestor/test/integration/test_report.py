#!/usr/bin/env python3
"""loomlat report and loomlat show against a real database with known rows
(dash_seed): the JSON summary is latency_summary() itself, the text report
shows the database's numbers, the HTML page is self-contained and escaped,
show matches invocation_detail(), and bad input gets the documented exits."""

import json
import os
import re
import subprocess
import tempfile
import time

import dash_seed
import harness

ESC = "\x1b["


def json_report(tap, db):
    res = harness.loomlat("report", "--db", db.conninfo, "--range", "1h", "--as-of",
                          dash_seed.AS_OF, "--format", "json")
    doc = res.json()
    tap.eq(res.rc, 0, "report --format json: exit 0") or tap.diag("\n".join(res.explain()))
    want = db.value("SELECT loomlat.latency_summary('1h', NULL, 1, '%s')" % dash_seed.AS_OF)
    tap.eq(doc and doc.get("summary"), want, "json summary is latency_summary() exactly")
    want_phases = db.rows("SELECT * FROM loomlat.phase_breakdown('1h', NULL, '%s')"
                          % dash_seed.AS_OF)
    tap.eq(doc and doc.get("phase_breakdown"), want_phases, "json phase_breakdown rows")
    want_time = db.value("SELECT count(*) FROM loomlat.latency_over_time('1h', NULL, NULL, '%s')"
                         % dash_seed.AS_OF)
    tap.eq(len(doc.get("latency_over_time", [])) if doc else None, want_time,
           "json latency_over_time: one row per bucket (%d)" % want_time)
    res = harness.loomlat("report", "--db", db.conninfo, "--range", "1h", "--as-of",
                          dash_seed.AS_OF, "--format", "json", "--agent-id", "1",
                          "--min-invocations", "0")
    want = db.value("SELECT loomlat.latency_summary('1h', 1, 0, '%s')" % dash_seed.AS_OF)
    tap.eq(res.json() and res.json().get("summary"), want,
           "json with --agent-id 1 --min-invocations 0: latency_summary('1h', 1, 0)")


def fewer_connections(tap, db):
    """A role allowed one or two connections gets the same report: its three
    statements (summary, breakdown, series) take turns on what there is."""
    args = ("--range", "24h", "--as-of", dash_seed.AS_OF, "--format", "json")
    full = harness.loomlat("report", "--db", db.conninfo, *args)
    for limit in (1, 2):
        harness.psql("DROP ROLE IF EXISTS regress_report_few; "
                     "CREATE ROLE regress_report_few LOGIN PASSWORD 'few' CONNECTION LIMIT %d; "
                     "GRANT USAGE ON SCHEMA loomlat TO regress_report_few; "
                     "GRANT SELECT ON ALL TABLES IN SCHEMA loomlat TO regress_report_few" % limit,
                     dbname=db.name)
        try:
            few = harness.loomlat("report", "--db",
                                  db.conninfo + " user=regress_report_few password=few", *args)
            tap.eq(few.rc, 0, "%d connection(s) allowed: exit 0" % limit) or \
                tap.diag("\n".join(few.explain()))
            tap.ok(full.json() is not None and few.json() == full.json(),
                   "%d connection(s) allowed: the same document as over three" % limit)
        finally:
            harness.psql("DROP OWNED BY regress_report_few; DROP ROLE regress_report_few",
                         dbname=db.name, check=False)


def one_snapshot(tap):
    """The report's statements run on up to three connections: a writer
    committing rows into the window while reports run must not make them
    disagree (they share one exported snapshot).  The connections go through
    a proxy that delays every answer by 50 ms, so that without the shared
    snapshot hundreds of rows would land between the first statement's
    snapshot and the others'."""
    db = dash_seed.seed("report_snapshot")
    proxy = harness.TcpProxy(*harness.pg_target())
    proxy.slow(0.05)
    conninfo = "host=127.0.0.1 port=%d dbname=%s" % (proxy.port, db.name)
    writer = subprocess.Popen(
        ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", db.name,
         "-c", "SET synchronous_commit = off",
         "-c", "DO $$ DECLARE deadline timestamptz := clock_timestamp() + interval '8 s';"
               " BEGIN FOR k IN 1..10000000 LOOP"
               "  EXIT WHEN clock_timestamp() > deadline;"
               "  INSERT INTO loomlat.invocations (invocation_id, agent_id, status,"
               "   client_invoke_time, cold_start_latency_ms, ttft_ms, client_duration_ms)"
               "  VALUES (('00000000-0000-7000-9000-' || lpad(to_hex(k), 12, '0'))::uuid, 1,"
               "   'complete', '%s'::timestamptz - interval '30 minutes', 5, 700, 2000);"
               "  COMMIT;"
               " END LOOP; END $$" % dash_seed.AS_OF],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        count = lambda: db.value("SELECT count(*) FROM loomlat.invocations")
        seeded = 16
        deadline = time.monotonic() + 5
        while count() == seeded and time.monotonic() < deadline:
            time.sleep(0.05)
        totals = []
        for _ in range(6):
            res = harness.loomlat("report", "--db", conninfo, "--range", "1h", "--as-of",
                                  dash_seed.AS_OF, "--format", "json")
            doc = res.json() or {}
            total = (doc.get("summary") or {}).get("total_invocations")
            ttfts = [r["invocation_count"] for r in doc.get("phase_breakdown", [])
                     if r["class"] == "all" and r["phase"] == "(ttft)"]
            series = sum(b["invocations"] for b in doc.get("latency_over_time", []))
            totals.append(total)
            if not tap.ok(res.rc == 0 and ttfts == [total] and series == total,
                          "writes during the report: summary %s, breakdown %s, series %s agree"
                          % (total, ttfts, series), *res.explain()):
                break
        tap.ok(None not in totals and totals[-1] > totals[0] > seeded,
               "rows were committed while the reports ran (%s)" % totals)
    finally:
        proxy.close()
        writer.wait(timeout=30)
    tap.eq(writer.returncode, 0, "the writer ran to its end") or tap.diag(writer.stderr.read())


def text_report(tap, db):
    res = harness.loomlat("report", "--db", db.conninfo, "--range", "1h", "--as-of",
                          dash_seed.AS_OF)
    tap.eq(res.rc, 0, "report (text): exit 0") or tap.diag("\n".join(res.explain()))
    out = res.stdout
    s = db.value("SELECT loomlat.latency_summary('1h', NULL, 1, '%s')" % dash_seed.AS_OF)
    disp = lambda ms: db.value("SELECT loomlat.ttft_display(%r)" % ms)
    tap.ok(re.search(r"Invocations\s+%d\b" % s["total_invocations"], out),
           "text: %d invocations" % s["total_invocations"], out)
    tap.ok("%.1f%%" % (s["cold_start_pct"] * 100) in out, "text: cold start share", out)
    line = next((l for l in out.splitlines() if l.startswith("TTFT")), "")
    for q in ("p50", "p95", "p99"):
        tap.ok("%s %s" % (q, disp(s["ttft_%s_ms" % q])) in line,
               "text: TTFT %s is ttft_display(%s)" % (q, s["ttft_%s_ms" % q]), line)
    slow = [l for l in out.splitlines() if l.startswith("SLOW")]
    tap.eq(len(slow), 1, "text: one agent marked SLOW")
    tap.ok(slow and " 2 " in slow[0], "text: the slow agent is agent 2", *slow)
    tap.ok(ESC not in out, "text to a pipe: no escape sequence")
    tap.ok(max(len(l) for l in out.splitlines()) <= 100, "text: every line fits 100 columns")
    tap.ok("warm is" in out and "% faster" in out, "text: warm vs cold improvement shown", out)
    lines = out.splitlines()
    for cls, cold in (("cold", "true"), ("warm", "false")):
        q = db.value("SELECT percentile_cont('{0.5,0.95,0.99}'::float8[]) WITHIN GROUP "
                     "(ORDER BY ttft_ms) || count(ttft_ms)::float8 FROM loomlat.invocations "
                     "WHERE was_cold_start = %s "
                     "AND client_invoke_time > '%s'::timestamptz - interval '1 hour' "
                     "AND client_invoke_time <= '%s'" % (cold, dash_seed.AS_OF, dash_seed.AS_OF))
        line = next((l for l in lines if l.strip().startswith(cls + " ")), "")
        want = "p50 %-8s p95 %-8s p99 %-8s (%d TTFTs)" % (tuple(disp(v) for v in q[:3]) + (q[3],))
        tap.ok(want in line, "text: %s TTFT is percentile_cont of %s invocations, and their count"
               % (cls, cls), line, want)
    tap.ok("first_token" in out and "Where the time goes" in out, "text: where the time goes")


def colours(tap, db):
    """Colours only on a terminal, and never with NO_COLOR set."""
    import pty
    import subprocess
    for no_color, want in ((None, True), ("1", False)):
        env = dict(os.environ)
        env.pop("NO_COLOR", None)
        if no_color:
            env["NO_COLOR"] = no_color
        master, slave = pty.openpty()
        proc = subprocess.Popen([harness.binary(), "report", "--db", db.conninfo, "--as-of",
                                 dash_seed.AS_OF, "--range", "1h"], stdout=slave,
                                stderr=subprocess.DEVNULL, env=env)
        os.close(slave)
        chunks = []
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:
                break
            if not data:
                break
            chunks.append(data)
        proc.wait(30)
        os.close(master)
        out = b"".join(chunks).decode(errors="replace")
        tap.eq(ESC in out, want, "terminal%s: escape sequences %s"
               % (" with NO_COLOR=1" if no_color else "", "present" if want else "absent"))


def html_report(tap, db, tmp):
    path = os.path.join(tmp, "dash.html")
    res = harness.loomlat("report", "--db", db.conninfo, "--as-of", dash_seed.AS_OF,
                          "--range", "1h", "--format", "html", "-o", path)
    tap.eq(res.rc, 0, "report --format html -o FILE: exit 0") or tap.diag("\n".join(res.explain()))
    page = open(path, encoding="utf-8").read() if os.path.exists(path) else ""
    tap.ok("default-src 'none'" in page, "html: a Content-Security-Policy forbidding fetches")
    refs = re.findall(r"""(?:src|href)\s*=\s*["']?([^"' >]*)""", page, re.I)
    tap.eq([r for r in refs if not r.startswith("#")], [],
           "html: every src/href is a fragment (no http, no //)")
    tap.ok(not re.search(r"<link|<script[^>]*src|@import|url\(", page, re.I),
           "html: no <link>, no external script, no @import or url()")
    tap.ok("<script>alert" not in page and "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; "
           "&amp; &quot;slow&quot;" in page, "html: the agent name with markup is escaped")
    tap.eq(page.count("<script>"), 1, "html: one inline script (ours)")
    for r in ("1h", "24h", "7d", "30d"):
        tap.ok('data-range="%s" id="r-%s"' % (r, r) in page, "html: range %s embedded" % r)
    tap.eq(page.count('<tr class="slow">'), 4, "html: the slow agent highlighted in each range")
    return path


def fifty_agents(tap, tmp):
    db = harness.Database("report50")
    harness.psql("INSERT INTO loomlat.agents SELECT g, 'agent number ' || g FROM "
                 "generate_series(1, 50) g;"
                 "INSERT INTO loomlat.invocations (invocation_id, agent_id, status,"
                 " client_invoke_time, cold_start_latency_ms, ttft_ms, client_duration_ms)"
                 " SELECT gen_random_uuid(), 1 + g % 50, 'complete',"
                 "  '2031-03-15 12:00:00+00'::timestamptz - g * interval '7 minutes',"
                 "  CASE WHEN g % 3 = 0 THEN 5000 ELSE 5 END, 300 + (g * 37) % 15000, 20000"
                 " FROM generate_series(1, 3000) g", dbname=db.name)
    path = os.path.join(tmp, "fifty.html")
    res = harness.loomlat("report", "--db", db.conninfo, "--as-of", dash_seed.AS_OF,
                          "--format", "html", "-o", path)
    size = os.path.getsize(path) if res.rc == 0 else None
    tap.ok(size is not None and size < 300 * 1024,
           "html with 50 agents in every range: %s bytes, under 300 KB" % size)


def show(tap, db):
    want = db.value("SELECT loomlat.invocation_detail('%s')" % dash_seed.SHOW_ID)
    res = harness.loomlat("show", dash_seed.SHOW_ID, "--format", "json", "--db", db.conninfo)
    tap.eq(res.json(), want, "show --format json is invocation_detail()")
    res = harness.loomlat("show", dash_seed.SHOW_ID, "--db", db.conninfo)
    tap.eq(res.rc, 0, "show (text): exit 0") or tap.diag("\n".join(res.explain()))
    out = res.stdout
    for label, value in (("TTFT", want["ttft_display"]), ("status", want["status"]),
                         ("badge", want["badge"]), ("error", want["error_message"]),
                         ("agent", want["agent_name"])):
        tap.ok(value in out, "show text: %s %r" % (label, value), out)
    tap.ok("token cache  hit" in out, "show text: token cache hit")
    bars = [l for l in out.splitlines() if l.rstrip().endswith("|") and "=" in l]
    tap.eq([l.split()[0] for l in bars], [p["phase"] for p in want["phases"]],
           "show text: the phases in invocation_detail()'s order as bars")
    tap.ok(len(bars) == 3 and bars[2].rstrip("| ").endswith("=") and
           bars[0].index("=") < bars[1].index("=") < bars[2].index("="),
           "show text: the waterfall moves right and the last phase reaches the end", *bars)
    tap.ok(ESC not in out, "show text to a pipe: no escape sequence")


def bad_input(tap, db):
    cases = [(("report", "--range", "2h"), 64, "--range"),
             (("report", "--agent-id", "-1"), 64, "--agent-id"),
             (("report", "--agent-id", "1; DROP TABLE x"), 64, "--agent-id"),
             (("report", "--min-invocations", "1000000001"), 64, "--min-invocations"),
             (("report", "--format", "pdf"), 64, "--format"),
             (("report", "--agent-id", "999"), 65, "999"),
             (("report", "--as-of", "yesterday-ish"), 65, "report"),
             (("show", "not-a-uuid"), 64, "INVOCATION_ID"),
             (("show", "00000000-0000-7000-8000-00000000ffff"), 65, "no invocation")]
    for args, rc, word in cases:
        res = harness.loomlat(*args, "--db", db.conninfo)
        tap.ok(res.rc == rc and word in res.stderr, "%s: exit %d naming %s" % (" ".join(args), rc,
               word), *res.explain())
    port = harness.free_port()
    for args in (("report",), ("show", dash_seed.SHOW_ID)):
        res = harness.loomlat(*args, "--db", "host=127.0.0.1 port=%d dbname=x" % port)
        tap.ok(res.rc == 69 and "database" in res.stderr, "%s, database down: exit 69" % args[0],
               *res.explain())


def main():
    tap = harness.Tap()
    harness.require_environment(tap)
    db = dash_seed.seed("report")
    with tempfile.TemporaryDirectory() as tmp:
        json_report(tap, db)
        fewer_connections(tap, db)
        one_snapshot(tap)
        text_report(tap, db)
        colours(tap, db)
        html_report(tap, db, tmp)
        fifty_agents(tap, tmp)
        show(tap, db)
        bad_input(tap, db)


if __name__ == "__main__":
    main()
