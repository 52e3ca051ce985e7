"""harness - what every integration test shares.

Contract: a test builds a Tap, starts mocks with start_mock() (they are
killed when the test exits, however it exits), gets its own database with
Database() (created with the loomlat extension, dropped at exit), runs the
binary with loomlat() and asserts on its exit code, output, the mocks'
/stats and /truth and the rows.  Every wait is bounded.  Environment:
LOOMLAT_BIN (the binary) and the PG* variables of a cluster on which the
loomlat extension is installed.
"""

import atexit
import json
import os
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
MOCKS = os.path.join(HERE, "..", "mock")
START_TIMEOUT_S = 10
RUN_TIMEOUT_S = 120
# The binary's journal goes here unless a test names one, never to the
# user's own state directory.
JOURNAL_DIR = tempfile.mkdtemp(prefix="loomlat-journal-")
atexit.register(shutil.rmtree, JOURNAL_DIR, True)


class Tap:
    """TAP output: "ok N - name" / "not ok N - name", the plan at the end."""

    def __init__(self):
        self.n = 0
        self.failed = 0
        atexit.register(self._plan)

    def ok(self, cond, name, *diag):
        self.n += 1
        print("%sok %d - %s" % ("" if cond else "not ", self.n, name), flush=True)
        if not cond:
            self.failed += 1
            for line in diag:
                self.diag(line)
        return bool(cond)

    def eq(self, got, want, name):
        return self.ok(got == want, name, "got:  %r" % (got,), "want: %r" % (want,))

    def near(self, got, want, below, above, name):
        """got is within [want - below, want + above]."""
        cond = got is not None and want - below <= got <= want + above
        return self.ok(cond, name, "got %r, want %r (-%g/+%g)" % (got, want, below, above))

    def diag(self, text):
        for line in str(text).splitlines() or [""]:
            print("# " + line, flush=True)

    def bail(self, why):
        print("Bail out! " + why, flush=True)
        sys.exit(1)

    def _plan(self):
        print("1..%d" % self.n, flush=True)


_children = []


def _kill_children():
    for proc in _children:
        if proc.poll() is None:
            proc.terminate()
    deadline = time.monotonic() + 5
    for proc in _children:
        try:
            proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


atexit.register(_kill_children)
signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))


class Mock:
    """A running mock server: its port, and GET/POST helpers for its JSON API."""

    def __init__(self, proc, port):
        self.proc = proc
        self.port = port
        self.url = "http://127.0.0.1:%d" % port

    def get(self, path):
        with urllib.request.urlopen(self.url + path, timeout=10) as resp:
            return json.load(resp)

    def post(self, path, obj):
        req = urllib.request.Request(self.url + path, data=json.dumps(obj).encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.load(resp)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(5)


def start_mock(script, *args, wrapper=()):
    """Start ingestor/test/mock/<script>.py with args (under wrapper, e.g.
    taskset); wait for its port."""
    cmd = [*wrapper, sys.executable, os.path.join(MOCKS, script + ".py"), *args]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=sys.stderr, text=True)
    _children.append(proc)
    ready, _, _ = select.select([proc.stdout], [], [], START_TIMEOUT_S)
    line = proc.stdout.readline() if ready else ""
    if not line.startswith("PORT "):
        raise RuntimeError("mock %s did not start: %r" % (script, line))
    return Mock(proc, int(line.split()[1]))


def psql(sql, dbname=None, check=True):
    """Run SQL with psql; returns stdout (unaligned, tab-separated)."""
    cmd = ["psql", "-X", "-q", "-At", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-c", sql]
    if dbname:
        cmd += ["-d", dbname]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    if check and proc.returncode != 0:
        raise RuntimeError("psql failed: %s" % proc.stderr.strip())
    return proc.stdout


class Database:
    """A fresh database with the loomlat extension, dropped at exit."""

    _serial = 0

    def __init__(self, tag):
        Database._serial += 1
        self.name = "loomlat_%s_%d_%d" % (tag, os.getpid(), Database._serial)
        psql('CREATE DATABASE "%s"' % self.name, dbname=os.environ.get("PGDATABASE", "postgres"))
        atexit.register(self.drop)
        psql("CREATE EXTENSION loomlat", dbname=self.name)
        self.conninfo = "dbname=%s" % self.name

    def drop(self):
        psql('DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % self.name,
             dbname=os.environ.get("PGDATABASE", "postgres"), check=False)

    def rows(self, sql):
        """The query's rows as a list of dicts (via json_agg)."""
        out = psql("SELECT coalesce(json_agg(q), '[]') FROM (%s) q" % sql, dbname=self.name)
        return json.loads(out)

    def value(self, sql):
        return json.loads(psql("SELECT to_json((%s))" % sql, dbname=self.name))

    def dump(self):
        """Every column of every loomlat table, as text (for leak checks)."""
        return psql("SELECT row_to_json(a)::text FROM loomlat.agents a "
                    "UNION ALL SELECT row_to_json(i)::text FROM loomlat.invocations i "
                    "UNION ALL SELECT row_to_json(p)::text FROM loomlat.invocation_phases p",
                    dbname=self.name)


class Result:
    """What one run of the binary did."""

    def __init__(self, args, rc, stdout, stderr, elapsed):
        self.args = args
        self.rc = rc
        self.stdout = stdout
        self.stderr = stderr
        self.elapsed = elapsed

    def json(self):
        try:
            return json.loads(self.stdout)
        except ValueError:
            return None

    def explain(self):
        return ["args: %s" % " ".join(self.args), "exit: %s" % self.rc,
                "stdout: %s" % self.stdout[-2000:], "stderr: %s" % self.stderr[-2000:]]


def binary():
    path = os.environ.get("LOOMLAT_BIN", os.path.join(HERE, "..", "..", "loomlat"))
    return os.path.abspath(path)


def loomlat(*args, env=None, timeout=RUN_TIMEOUT_S, unset=(), wrapper=()):
    """Run the binary with args (under wrapper, e.g. taskset); env entries are
    added to, and unset names removed from, os.environ."""
    full_env = dict(os.environ, LOOMLAT_JOURNAL_DIR=JOURNAL_DIR)
    for name in unset:
        full_env.pop(name, None)
    full_env.update(env or {})
    cmd = [*wrapper, binary(), *args]
    start = time.monotonic()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=full_env,
                              timeout=timeout)
        rc, out, err = proc.returncode, proc.stdout, proc.stderr
    except subprocess.TimeoutExpired as exc:
        rc, out, err = "timeout", exc.stdout or "", exc.stderr or ""
        out = out.decode() if isinstance(out, bytes) else out
        err = err.decode() if isinstance(err, bytes) else err
    return Result(cmd, rc, out, err, time.monotonic() - start)


def check_first_token(tap, name, row, truth, sent, early_ms, measure_ms):
    """The row's first token (invoke_epoch + ttft_ms, wall clock) is no earlier than
    the mock agent's time right before it sent the text, less early_ms of clock
    rounding, and at most measure_ms after truth[sent] (a time taken after the
    send).  The mock being descheduled around its send falls inside the bounds."""
    if row.get("ttft_ms") is None or truth.get(sent) is None:
        return tap.ok(False, "%s: a first token to check" % name, "row %r" % (row,))
    seen = row["invoke_epoch"] + row["ttft_ms"] / 1000
    after_ms = (seen - truth["first_text_before"]) * 1000
    error_ms = (seen - truth[sent]) * 1000
    return tap.ok(after_ms >= -early_ms and error_ms <= measure_ms,
                  "%s: measured %.2f ms after the send began, %.2f ms after %s"
                  % (name, after_ms, error_ms, sent),
                  "want >= -%g and <= %g" % (early_ms, measure_ms))


def require_environment(tap):
    """Bail out unless the binary exists and PG* reach a cluster that has the
    loomlat extension installed."""
    if not os.access(binary(), os.X_OK):
        tap.bail("no loomlat binary at %s (set LOOMLAT_BIN or run make)" % binary())
    try:
        found = psql("SELECT count(*) FROM pg_catalog.pg_available_extensions "
                     "WHERE name = 'loomlat'", dbname=os.environ.get("PGDATABASE", "postgres"))
    except (RuntimeError, subprocess.TimeoutExpired) as exc:
        tap.bail("no PostgreSQL reachable through PG*: run the tests inside "
                 "'pg_virtualenv -t -v 15' (%s)" % exc)
    if found.strip() != "1":
        tap.bail("the loomlat extension is not installed: make install at the repository top")


def secret_file(tmpdir, name, value):
    """A 0600 file holding value (no trailing newline)."""
    path = os.path.join(tmpdir, name)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(value)
    return path


def free_port():
    """A loopback port nothing listens on (bound once, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class TcpProxy:
    """A loopback TCP proxy to PostgreSQL that a test can cut and restore.

    While cut, every open connection is reset and new ones are accepted and
    closed at once, so the client sees the server go away and stay away.
    While deaf, the client's bytes still reach the server but the server's
    answers are dropped: the client's statements run, it never hears so.
    While slow, the server's answers reach the client that much later, so
    every round trip takes longer."""

    def __init__(self, target_host, target_port):
        self.target = (target_host, target_port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.lock = threading.Lock()
        self.pairs = []
        self.up = True
        self.deaf = False
        self.delay = 0.0
        self.accepted = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            with self.lock:
                self.accepted += 1
                up = self.up
            if not up:
                client.close()
                continue
            try:
                server = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            with self.lock:
                self.pairs.append((client, server))
            for a, b, answer in ((client, server, False), (server, client, True)):
                threading.Thread(target=self._pump, args=(a, b, answer), daemon=True).start()

    def _pump(self, src, dst, answer):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if answer and self.delay:
                    time.sleep(self.delay)
                if not (answer and self.deaf):
                    dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cut(self):
        with self.lock:
            self.up = False
            pairs, self.pairs = self.pairs, []
        for pair in pairs:
            for s in pair:
                try:
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()

    def restore(self):
        with self.lock:
            self.up = True
            self.deaf = False

    def deafen(self):
        with self.lock:
            self.deaf = True

    def slow(self, seconds):
        with self.lock:
            self.delay = seconds

    def close(self):
        self.cut()
        self.listener.close()


def pg_target():
    """Host and port of the cluster the PG* variables name (TCP only)."""
    host = os.environ.get("PGHOST", "localhost")
    if host.startswith("/"):
        host = "localhost"
    return host, int(os.environ.get("PGPORT", "5432"))
