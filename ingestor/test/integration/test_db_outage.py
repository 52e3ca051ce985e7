#!/usr/bin/env python3
"""The database goes away mid-run: rows are re-sent once it is back, or
spooled to a file when it stays away (exit 75); none is lost or doubled.
The spool cases run with --no-journal (with the journal the rows stay in it:
test_journal.py).

A batch on the wire when the connection drops may have been committed without
the confirmation reaching us; such rows are spooled as well (and counted as
"in doubt"), since losing them would be worse than writing them twice, which
the upserts make harmless."""

import glob
import json
import os
import tempfile
import threading

import harness

N = 40


def run_with_faults(agent, tmp, name, *faults, journal=True):
    """Run the invocations through a proxy to a new database, doing to the
    proxy what each (seconds, method name) fault says when it says; returns
    the database, the proxy and the run's result."""
    db = harness.Database(name)
    proxy = harness.TcpProxy(*harness.pg_target())
    timers = [threading.Timer(at, getattr(proxy, what)) for at, what in faults]
    for t in timers:
        t.start()
    conninfo = "host=127.0.0.1 port=%d dbname=%s connect_timeout=2" % (proxy.port, db.name)
    res = harness.loomlat("invoke", "--url", agent.url + "/v1/messages?ttft_ms=20&tokens=3",
                          "--format", "anthropic", "--agent-id", "3", "--agent-name", "outage",
                          "--db", conninfo, "--allow-http", "--json", "-n", str(N), "-c", "4",
                          "--rate", "20", *([] if journal else ["--no-journal"]),
                          env={"LOOMLAT_SPOOL_DIR": tmp})
    for t in timers:
        t.join()
    return db, proxy, res


def comes_back(tap, agent, tmp):
    """Cut at 0.6 s, back at 1.4 s, while 40 invocations run for ~2 s."""
    db, proxy, res = run_with_faults(agent, tmp, "outage", (0.6, "cut"), (1.4, "restore"))
    tap.eq(res.rc, 0, "database back after 0.8 s: exit 0") or tap.diag("\n".join(res.explain()))
    tap.ok(proxy.accepted >= 2, "database back: the writer reconnected (%d connections)"
           % proxy.accepted)
    counts = db.rows("SELECT count(*) AS n, count(DISTINCT invocation_id) AS ids, "
                     "count(*) FILTER (WHERE status = 'complete') AS complete "
                     "FROM loomlat.invocations")[0]
    tap.eq(counts, {"n": N, "ids": N, "complete": N},
           "database back: all %d rows written once, complete" % N)
    tap.eq(db.value("SELECT count(DISTINCT invocation_id) FROM loomlat.invocation_phases "
                    "WHERE phase = 'first_token'"), N, "database back: every row has its phases")
    proxy.close()


def stays_away(tap, agent, tmp):
    """Cut at 0.6 s for good: the rows not written are spooled, exit 75."""
    db, proxy, res = run_with_faults(agent, tmp, "spool", (0.6, "cut"), journal=False)
    tap.eq(res.rc, 75, "database gone for good: exit 75 (rows spooled)") or tap.diag(
        "\n".join(res.explain()))
    spools = glob.glob(os.path.join(tmp, "*"))
    tap.eq(len(spools), 1, "database gone: one spool file in $LOOMLAT_SPOOL_DIR")
    if not spools:
        return
    tap.ok(spools[0] in res.stderr, "database gone: the spool file is named on stderr",
           *res.explain())
    tap.eq(os.stat(spools[0]).st_mode & 0o777, 0o600, "database gone: the spool file is mode 0600")
    with open(spools[0], encoding="utf-8") as f:
        spooled = [json.loads(line) for line in f if line.strip()]
    written = {r["invocation_id"] for r in db.rows(
        "SELECT invocation_id FROM loomlat.invocations WHERE status = 'complete'")}
    final = {r["invocation_id"] for r in spooled if r.get("status") in ("complete", "error")}
    summary = json.loads(res.stdout)
    tap.eq(summary["rows_unwritten"], len(spooled), "database gone: the summary counts the "
           "spooled rows (%d)" % len(spooled))
    tap.eq(len(written | final), N, "database gone: every invocation is written or spooled "
           "(%d written, %d spooled)" % (len(written), len(final)))
    tap.ok(len(written & final) <= summary["rows_in_doubt"],
           "database gone: only rows in doubt are both written and spooled (%d both, %d in doubt)"
           % (len(written & final), summary["rows_in_doubt"]))
    proxy.restore()
    replay = harness.loomlat("ingest", "--db", "host=127.0.0.1 port=%d dbname=%s"
                             % (proxy.port, db.name), "--spool", spools[0])
    tap.eq(replay.rc, 0, "replay: the spool is written once the database is back") or tap.diag(
        "\n".join(replay.explain()))
    tap.eq(db.value("SELECT count(*) FROM loomlat.invocations WHERE status = 'complete'"), N,
           "replay: all %d rows complete, none doubled" % N)
    proxy.close()


def answers_lost(tap, agent, tmp):
    """The server's answers are lost from 0.6 s, the link cut at 1.0 s for
    good: the batch sent meanwhile is committed but never confirmed, so its
    rows are both written and spooled, and the run says how many are in doubt."""
    db, proxy, res = run_with_faults(agent, tmp, "doubt", (0.6, "deafen"), (1.0, "cut"),
                                   journal=False)
    tap.eq(res.rc, 75, "answers lost: exit 75 (rows spooled)") or tap.diag(
        "\n".join(res.explain()))
    spools = glob.glob(os.path.join(tmp, "*"))
    if len(spools) != 1:
        tap.ok(False, "answers lost: one spool file", "found: %r" % spools)
        return
    with open(spools[0], encoding="utf-8") as f:
        spooled = {(r["invocation_id"], r["status"]) for r in map(json.loads, filter(str.strip, f))
                   if "status" in r}
    written = {(r["invocation_id"], r["status"]) for r in db.rows(
        "SELECT invocation_id, status FROM loomlat.invocations")}
    both = len(written & spooled)
    doubt = json.loads(res.stdout)["rows_in_doubt"]
    tap.ok(1 <= both <= doubt, "answers lost: the committed but unconfirmed rows are spooled "
           "and counted in doubt (%d rows both written and spooled, %d in doubt)" % (both, doubt))
    tap.ok("in the database already" in res.stderr, "answers lost: stderr says some rows may "
           "already be written", *res.explain())
    final = ("complete", "error")
    tap.eq(len({i for i, st in written | spooled if st in final}), N,
           "answers lost: no invocation is lost")
    proxy.close()


def main():
    tap = harness.Tap()
    harness.require_environment(tap)
    agent = harness.start_mock("agent_server", "--cold", "0")
    with tempfile.TemporaryDirectory() as tmp:
        comes_back(tap, agent, tmp)
    with tempfile.TemporaryDirectory() as tmp:
        stays_away(tap, agent, tmp)
    with tempfile.TemporaryDirectory() as tmp:
        answers_lost(tap, agent, tmp)


if __name__ == "__main__":
    main()
