#!/usr/bin/env python3
"""The write-ahead journal: no finished invocation is lost, none doubled and
none left pending, whether the database goes away (twice), the ingestor is
killed with SIGKILL (mid-run, and during an outage) and started again on the
same journal (by the next invoke, or by "loomlat ingest --journal DIR", which
a second replayer cannot enter meanwhile), the journal fills up (the run
pauses) or its disk does (exit 74).  Outages go through harness.TcpProxy (cut: connections reset, new ones
refused), as in test_db_outage.py; everything is on loopback."""

import glob
import json
import os
import re
import signal
import subprocess
import tempfile
import threading
import time

import harness

# ~130 ms an invocation: 2,000 at -c 50 take ~5 s, so faults and kills land mid-run.
AGENT_PATH = "/v1/messages?ttft_ms=40&tokens=5&gap_ms=20&jitter_ms=10"


class Run:
    """One database behind a proxy, one journal directory, one agent id."""

    def __init__(self, agent, name, journal):
        self.agent = agent
        self.db = harness.Database(name)
        self.proxy = harness.TcpProxy(*harness.pg_target())
        self.journal = journal
        self.conninfo = "host=127.0.0.1 port=%d dbname=%s connect_timeout=2" % (
            self.proxy.port, self.db.name)

    def args(self, n, c, *extra):
        return ["invoke", "--url", self.agent.url + AGENT_PATH, "--format", "anthropic",
                "--agent-id", "7", "--agent-name", "journal", "--db", self.conninfo,
                "--allow-http", "--json", "-n", str(n), "-c", str(c),
                "--journal-dir", self.journal, *extra]

    def start(self, n, c, *extra):
        """The binary in the background (for a SIGKILL)."""
        return subprocess.Popen([harness.binary(), *self.args(n, c, *extra)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def counts(self):
        return self.db.rows(
            "SELECT count(*) AS n, count(DISTINCT invocation_id) AS ids, "
            "count(*) FILTER (WHERE status = 'complete') AS complete, "
            "count(*) FILTER (WHERE status = 'pending') AS pending, "
            "count(*) FILTER (WHERE error_message = 'the ingestor stopped before the "
            "invocation finished') AS closed FROM loomlat.invocations")[0]


def faults(proxy, *plan):
    """Start timers doing (seconds, method) to the proxy; returns them."""
    timers = [threading.Timer(at, getattr(proxy, what)) for at, what in plan]
    for t in timers:
        t.start()
    return timers


def segments(journal):
    return glob.glob(os.path.join(journal, "*.seg"))


def two_outages(tap, agent, tmp):
    """2,000 invocations, -c 50; the database away twice: all rows, once."""
    n = 2000
    run = Run(agent, "outages", tmp)
    timers = faults(run.proxy, (1.0, "cut"), (2.0, "restore"), (3.0, "cut"), (4.0, "restore"))
    res = harness.loomlat(*run.args(n, 50))
    for t in timers:
        t.join()
    tap.eq(res.rc, 0, "two outages: exit 0") or tap.diag("\n".join(res.explain()))
    tap.ok(res.elapsed > 4.5, "two outages: both outages fell within the run (%.1f s)"
           % res.elapsed)
    tap.ok(run.proxy.accepted >= 3, "two outages: the writer reconnected (%d connections)"
           % run.proxy.accepted)
    tap.eq(run.counts(), {"n": n, "ids": n, "complete": n, "pending": 0, "closed": 0},
           "two outages: exactly %d invocation rows, all complete" % n)
    tap.eq(run.db.value("SELECT count(DISTINCT invocation_id) FROM loomlat.invocation_phases "
                        "WHERE phase = 'first_token'"), n, "two outages: every row has its phases")
    tap.eq(segments(tmp), [], "two outages: the journal is empty at the end")
    run.proxy.close()


def killed(tap, agent, tmp, tag, name, plan, kill_at, by_ingest=False):
    """SIGKILL at kill_at s (after the proxy faults of plan); then a second run
    on the same journal (invoke, or ingest --journal) writes what the first
    left: every invocation taken has a final row (complete, or closed as
    stopped), once, and none is pending."""
    run = Run(agent, tag, tmp)
    before = agent.get("/stats")["requests"]
    timers = faults(run.proxy, *plan)
    proc = run.start(2000, 50)
    time.sleep(kill_at)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    for t in timers:
        t.join()
    seen = agent.get("/stats")["requests"] - before
    at_kill = run.counts()
    tap.ok(len(segments(tmp)) >= 1, "%s: the killed run left its journal" % name)
    tap.ok(0 < seen < 2000, "%s: killed mid-run (%d invocations started)" % (name, seen))
    run.proxy.restore()
    if by_ingest:
        res = harness.loomlat("ingest", "--journal", tmp, "--db", run.conninfo)
        tap.ok(re.search(r"^journal: +\d+ rows replayed from [1-9]", res.stdout, re.M),
               "%s: the summary says what was replayed" % name, *res.explain())
    else:
        res = harness.loomlat(*run.args(1, 1))
    own = 0 if by_ingest else 1  # the new run's own invocation
    tap.eq(res.rc, 0, "%s: the next run exits 0" % name) or tap.diag("\n".join(res.explain()))
    tap.ok("by a stopped run" in res.stderr, "%s: the next run says it replays" % name,
           *res.explain())
    counts = run.counts()
    tap.eq(counts["pending"], 0, "%s: no invocation is left pending" % name)
    # A call started in the last sync window (5 ms) before the kill may have
    # reached the agent while its pending row was not yet on disk: it was
    # never taken.  And a call whose pending row was on disk may not have
    # reached the agent yet (the row is written before the token and the
    # request): recovery closes it as stopped.  Either way at most -c calls.
    unseen = counts["n"] - own - seen
    tap.ok(-50 <= unseen <= min(50, counts["closed"]),
           "%s: the agent saw %d calls, %d have a row (%d closed as stopped)"
           % (name, seen, counts["n"] - own, counts["closed"]))
    tap.ok(counts["complete"] >= at_kill["complete"] and counts["closed"] > 0 and
           counts["complete"] + counts["closed"] == counts["n"],
           "%s: each row complete or closed as stopped (%d complete, %d at the kill, %d closed)"
           % (name, counts["complete"], at_kill["complete"], counts["closed"]))
    tap.eq(segments(tmp), [], "%s: the journal is empty after the replay" % name)
    res = harness.loomlat(*run.args(1, 1))
    tap.eq(run.counts()["n"], counts["n"] + 1, "%s: a third run replays nothing again" % name)
    run.proxy.close()
    return counts


def replay_lock(tap, agent, tmp):
    """While one "ingest --journal DIR" replays (its statement held up by a
    table lock), a second replayer of DIR is refused (exit 75) and reads
    nothing; the first is killed mid-replay, and the next replayer then writes
    every row once."""
    run = Run(agent, "replaylock", tmp)
    proc = run.start(400, 20)
    time.sleep(1.0)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    tap.ok(len(segments(tmp)) >= 1, "replay lock: the killed run left its journal")
    locker = subprocess.Popen(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", run.db.name],
                              stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    locker.stdin.write("BEGIN; LOCK TABLE loomlat.invocations IN SHARE MODE;\n")
    locker.stdin.flush()
    waiting = ("SELECT count(*) FROM pg_catalog.pg_stat_activity WHERE datname = "
               "current_database() AND application_name = 'loomlat' AND wait_event_type = 'Lock'")
    held = ("SELECT count(*) FROM pg_catalog.pg_locks l JOIN pg_catalog.pg_class c "
            "ON c.oid = l.relation WHERE c.relname = 'invocations' AND l.mode = 'ShareLock' "
            "AND l.granted")
    wait_for(lambda: run.db.value(held) == 1)
    first = subprocess.Popen([harness.binary(), "ingest", "--journal", tmp, "--db", run.conninfo],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    tap.ok(wait_for(lambda: run.db.value(waiting) == 1),
           "replay lock: the first replayer's statement waits for the table")
    second = harness.loomlat("ingest", "--journal", tmp, "--db", run.conninfo)
    tap.eq(second.rc, 75, "replay lock: a second replayer exits 75") or tap.diag(
        "\n".join(second.explain()))
    tap.ok("another loomlat is replaying" in second.stderr,
           "replay lock: the second replayer says why", *second.explain())
    # SIGKILL the first replayer in the middle of its replay (its statement
    # waiting): the lock dies with it, its backend may still commit that
    # statement, and the next replayer writes the rest, nothing twice.
    first.send_signal(signal.SIGKILL)
    first.communicate(timeout=30)
    locker.stdin.write("COMMIT;\n")
    locker.stdin.close()
    locker.wait(30)
    again = harness.loomlat("ingest", "--journal", tmp, "--db", run.conninfo)
    tap.eq(again.rc, 0, "replay lock: after a replayer killed mid-replay, the next one exits 0") \
        or tap.diag("\n".join(again.explain()))
    counts = run.counts()
    tap.ok(counts["n"] > 0 and counts["pending"] == 0 and counts["closed"] > 0 and
           counts["complete"] + counts["closed"] == counts["n"],
           "replay lock: every row written once, none pending (%r)" % (counts,))
    tap.eq(segments(tmp), [], "replay lock: the journal is empty after the replay")
    run.proxy.close()


def wait_for(cond, timeout=20):
    """Poll cond every 50 ms; its last value."""
    deadline = time.monotonic() + timeout
    while not cond() and time.monotonic() < deadline:
        time.sleep(0.05)
    return cond()


def journal_full(tap, agent, tmp):
    """A 64 KiB journal and the database away: the run pauses, then finishes."""
    n = 300
    run = Run(agent, "full", tmp)
    timers = faults(run.proxy, (0.3, "cut"), (3.0, "restore"))
    proc = run.start(n, 10, "--journal-max-bytes", "65536")
    time.sleep(1.8)
    a = agent.get("/stats")["requests"]
    time.sleep(0.8)
    b = agent.get("/stats")["requests"]
    out, err = proc.communicate(timeout=60)
    for t in timers:
        t.join()
    tap.eq(proc.returncode, 0, "journal full: exit 0 once the database is back") or tap.diag(err)
    tap.ok("is full" in err and "resuming" in err, "journal full: the pause is reported", err)
    tap.eq(a, b, "journal full: no invocation started while paused (%d, %d)" % (a, b))
    tap.eq(run.counts()["complete"], n, "journal full: all %d rows written" % n)
    run.proxy.close()


def disk_full(tap, agent):
    """The journal on a 64 KiB tmpfs: ENOSPC stops new invocations, the
    running ones are written directly, exit 74, nothing pending."""
    mnt = tempfile.mkdtemp(prefix="loomlat-tmpfs-")
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", mnt],
                      capture_output=True).returncode != 0:
        tap.ok(True, "# SKIP disk full: cannot mount a tmpfs (needs root)")
        os.rmdir(mnt)
        return
    try:
        with open(os.path.join(mnt, "filler"), "wb") as f:
            f.write(b"\0" * (40 << 10))
        run = Run(agent, "enospc", mnt)
        before = agent.get("/stats")["requests"]
        res = harness.loomlat(*run.args(2000, 10))
        seen = agent.get("/stats")["requests"] - before
        tap.eq(res.rc, 74, "disk full: exit 74") or tap.diag("\n".join(res.explain()))
        tap.ok("No space left on device" in res.stderr, "disk full: the error is named",
               *res.explain())
        counts = run.counts()
        tap.ok(0 < seen < 2000, "disk full: the run stopped starting invocations (%d)" % seen)
        tap.eq((counts["n"], counts["pending"]), (seen, 0),
               "disk full: every started invocation is written, none pending")
        run.proxy.close()
    finally:
        subprocess.run(["umount", mnt])
        os.rmdir(mnt)


def timed(tap, fn, *args):
    start = time.monotonic()
    out = fn(tap, *args)
    tap.diag("%s: %.1f s" % (fn.__name__, time.monotonic() - start))
    return out


def main():
    tap = harness.Tap()
    harness.require_environment(tap)
    agent = harness.start_mock("agent_server", "--cold", "0")
    with tempfile.TemporaryDirectory() as tmp:
        timed(tap, two_outages, agent, tmp)
    with tempfile.TemporaryDirectory() as tmp:
        timed(tap, killed, agent, tmp, "kill", "killed mid-run", (), 1.5)
    with tempfile.TemporaryDirectory() as tmp:
        counts = timed(tap, killed, agent, tmp, "killout", "killed in an outage",
                        ((0.8, "cut"),), 2.0)
        tap.ok(counts["complete"] > 0, "killed in an outage: rows finished during the outage "
               "were kept")
    with tempfile.TemporaryDirectory() as tmp:
        timed(tap, killed, agent, tmp, "killingest", "replayed by ingest --journal", (), 1.5,
              True)
    with tempfile.TemporaryDirectory() as tmp:
        timed(tap, replay_lock, agent, tmp)
    with tempfile.TemporaryDirectory() as tmp:
        timed(tap, journal_full, agent, tmp)
    timed(tap, disk_full, agent)


if __name__ == "__main__":
    main()
