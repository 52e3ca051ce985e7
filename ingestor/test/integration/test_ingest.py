#!/usr/bin/env python3
"""loomlat ingest: JSON lines into a real database.

Every kind of bad line lands in the reject file with its line number and a
reason while every good line loads (exit 65); loading the file again adds
nothing (the summary counts the rows unchanged); a late line reclassifies
a cold start; --follow reads appends and a rotated file, and a restart from
its checkpoint after SIGKILL loads every line exactly once."""

import json
import os
import re
import signal
import subprocess
import tempfile
import time

import harness

BASE = 1793527200.0


def row(n, **extra):
    """A good line in loomlat's shape."""
    r = {"invocation_id": "00000000-0000-4000-8000-%012d" % n, "agent_id": 1,
         "status": "complete", "client_invoke_time": BASE + n, "ttft_ms": 100.0 + n,
         "client_duration_ms": 500.0, "phases": [{"phase": "db", "start_ms": 0, "duration_ms": 1}]}
    r.update(extra)
    return json.dumps(r).encode()


def write(path, lines, mode="wb"):
    with open(path, mode) as f:
        for line in lines:
            f.write(line + b"\n")


def summary(res):
    """The closing summary's numbers, by label."""
    out = {}
    m = re.search(r"lines read: +(\d+)", res.stdout)
    out["lines"] = int(m.group(1)) if m else None
    m = re.search(r"loaded: +(\d+) \(inserted (\d+), updated (\d+), unchanged (\d+)\)", res.stdout)
    if m:
        out.update(zip(("loaded", "inserted", "updated", "unchanged"), map(int, m.groups())))
    m = re.search(r"rejected: +(\d+) \((\d+) by the database\)", res.stdout)
    if m:
        out["rejected"], out["db_rejected"] = int(m.group(1)), int(m.group(2))
    return out


def bad_lines(tap, db, tmp):
    """Each bad line is rejected with its number and reason; the good ones load."""
    path = os.path.join(tmp, "mixed.jsonl")
    rejects = os.path.join(tmp, "mixed.rejects")
    loom = json.dumps({"session_id": "s-9", "status": "complete",
                       "client_invoke_time": BASE + 0.25, "agent_start_time": BASE + 3.25,
                       "ttft_ms": 40.5}).encode()
    lines = [
        row(1),                                                       # 1 good
        loom,                                                         # 2 good: Loom shape
        b'{"invocation_id": "00000000-0000-4000-8000-000000000003"',  # 3 invalid JSON
        row(4, ttft_ms="fast"),                                       # 4 wrong type
        b'{"status": "complete", "agent_id": 1}',                     # 5 no id, no time
        row(6, error_message="x" * 5000),                             # 6 oversize
        b'{"phases": [[[[[[[[[[1]]]]]]]]]]}',                         # 7 deep nesting
        row(8, session_id="\udcff").replace(b"\\udcff", b"\xff"),     # 8 invalid UTF-8
        row(9).replace(b'"ttft_ms": 109.0', b'"ttft_ms": NaN'),      # 9 NaN
        row(10, colour="blue"),                                       # 10 unknown key
        row(11, ttft_ms=-1),                                          # 11 the server rejects
        b"",                                                          # 12 blank: skipped
        row(13, agent_id=5, agent_name="created by a line"),         # 13 good, new agent
        row(14, input_tokens=2 ** 70),                                # 14 integer too big
        b"[1, 2]",                                                    # 15 not an object
    ]
    write(path, lines)
    res = harness.loomlat("ingest", "--db", db.conninfo, "--agent-id", "1", "--rejects", rejects,
                          "--max-line-bytes", "4096", path)
    tap.eq(res.rc, 65, "a file with bad lines exits 65") or tap.diag("\n".join(res.explain()))
    with open(rejects, encoding="utf-8", errors="replace") as f:
        got = f.read().splitlines()
    by_line = {}
    for line in got:
        m = re.match(re.escape(path) + r":(\d+): (.+)$", line)
        tap.ok(m is not None, "reject line names the file and line: %s" % line[:80])
        if m:
            by_line[int(m.group(1))] = m.group(2)
    want = {3: "invalid JSON", 4: '"ttft_ms" must be a number', 5: "missing \"invocation_id\"",
            6: "longer than --max-line-bytes 4096", 7: "nested deeper", 8: "invalid JSON",
            9: "invalid JSON", 10: 'unknown key "colour"', 11: "ttft_ms",
            14: "invalid JSON", 15: "not a JSON object"}
    tap.eq(sorted(by_line), sorted(want), "exactly the bad lines are rejected")
    for n, text in want.items():
        tap.ok(text in by_line.get(n, ""), "line %d: %s" % (n, text), by_line.get(n))
    tap.ok("row 1" in by_line.get(11, ""), "the server's message names the row", by_line.get(11))
    s = summary(res)
    tap.eq((s.get("lines"), s.get("loaded"), s.get("inserted"), s.get("rejected"),
            s.get("db_rejected")), (14, 3, 3, 11, 1), "summary: lines, loaded, inserted, rejected")
    tap.eq(db.value("SELECT count(*) FROM loomlat.invocations"), 3, "the three good lines loaded")
    loom_row = db.rows("SELECT agent_id, session_id, cold_start_latency_ms, was_cold_start "
                       "FROM loomlat.invocations WHERE session_id = 's-9'")
    tap.eq(loom_row, [{"agent_id": 1, "session_id": "s-9", "cold_start_latency_ms": 3000,
                       "was_cold_start": True}],
           "the Loom-shaped line: default agent, latency from its Unix-second times")
    tap.eq(db.value("SELECT name FROM loomlat.agents WHERE agent_id = 5"), "created by a line",
           "agent_name creates the agent")
    tap.eq(db.value("SELECT count(*) FROM loomlat.invocation_phases"), 2, "phases loaded")

    again = harness.loomlat("ingest", "--db", db.conninfo, "--agent-id", "1", "--rejects",
                            rejects, "--max-line-bytes", "4096", path)
    s = summary(again)
    tap.eq((again.rc, s.get("inserted"), s.get("updated"), s.get("unchanged")), (65, 0, 0, 3),
           "the same file again: nothing inserted, the rows unchanged")
    tap.eq(db.value("SELECT count(*) FROM loomlat.invocations"), 3, "no new rows")


def late_facts(tap, db, tmp):
    """A later line for the same id fills in the start time and reclassifies."""
    first = os.path.join(tmp, "first.jsonl")
    late = os.path.join(tmp, "late.jsonl")
    write(first, [row(100)])
    write(late, [json.dumps({"invocation_id": "00000000-0000-4000-8000-000000000100",
                             "client_invoke_time": BASE + 100,
                             "agent_start_time": BASE + 112.5}).encode()])
    res = harness.loomlat("ingest", "--db", db.conninfo, first)
    tap.eq(res.rc, 0, "a good file exits 0") or tap.diag("\n".join(res.explain()))
    before = db.rows("SELECT was_cold_start FROM loomlat.invocations "
                     "WHERE invocation_id = '00000000-0000-4000-8000-000000000100'")
    res = harness.loomlat("ingest", "--db", db.conninfo, late)
    s = summary(res)
    after = db.rows("SELECT cold_start_latency_ms, was_cold_start, status FROM "
                    "loomlat.invocations WHERE invocation_id = "
                    "'00000000-0000-4000-8000-000000000100'")
    tap.eq((res.rc, s.get("updated"), before, after),
           (0, 1, [{"was_cold_start": None}], [{"cold_start_latency_ms": 12500, "was_cold_start": True,
                          "status": "complete"}]),
           "the late line fills in the start, reclassifies, keeps the status")


def wait_for(db, n, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if db.value("SELECT count(*) FROM loomlat.invocations") >= n:
            return True
        time.sleep(0.1)
    return False


def follow(tap, db, tmp):
    """Appends, a rotation, SIGKILL and a restart from the checkpoint."""
    path = os.path.join(tmp, "live.jsonl")
    cp = os.path.join(tmp, "live.checkpoint")
    cmd = [harness.binary(), "ingest", "--db", db.conninfo, "--follow", "--checkpoint", cp, path]
    write(path, [row(200 + i) for i in range(3)])
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        tap.ok(wait_for(db, 3), "follow: the first lines load")
        write(path, [row(203), row(204)], "ab")
        tap.ok(wait_for(db, 5), "follow: appended lines load")
        os.rename(path, path + ".1")
        write(path, [row(205), row(206)])
        tap.ok(wait_for(db, 7), "follow: the rotated-in file loads")
        time.sleep(1)  # a few poll ticks: the checkpoint is written
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    with open(cp) as f:
        mark = f.read().split()
    st = os.stat(path)
    tap.eq([int(x) for x in mark], [st.st_dev, st.st_ino, st.st_size, 2],
           "the checkpoint names the new file, its end and its line")
    write(path, [row(207), row(208)], "ab")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        tap.ok(wait_for(db, 9), "follow: a restart loads the lines added meanwhile")
        time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    res = harness.Result(cmd, proc.returncode, out, err, 0)
    s = summary(res)
    tap.eq((res.rc, s.get("lines"), s.get("inserted"), s.get("unchanged")), (0, 2, 2, 0),
           "the restart read only the two new lines, and SIGTERM exits 0") or \
        tap.diag("\n".join(res.explain()))
    ids = db.value("SELECT array_agg(invocation_id ORDER BY invocation_id) FROM "
                   "loomlat.invocations WHERE client_invoke_time >= to_timestamp(%f)"
                   % (BASE + 200))
    tap.eq(ids, ["00000000-0000-4000-8000-%012d" % (200 + i) for i in range(9)],
           "every followed line loaded exactly once")


def main():
    tap = harness.Tap()
    harness.require_environment(tap)
    db = harness.Database("ingest")
    harness.psql("INSERT INTO loomlat.agents (agent_id, name) VALUES (1, 'one')", dbname=db.name)
    with tempfile.TemporaryDirectory() as tmp:
        bad_lines(tap, db, tmp)
        late_facts(tap, db, tmp)
        follow(tap, db, tmp)


if __name__ == "__main__":
    main()
