#!/usr/bin/env python3
"""loomlat serve on loopback against a real database: the API is
latency_summary() and invocation_detail() themselves, parameters are checked
strictly (400 naming the parameter, injection attempts included), 50
concurrent clients all get answers, a non-loopback address needs a token, a
database that is down or never answers gives 503 in bounded time, and
SIGTERM lets the request in flight finish, then exits 0."""

import concurrent.futures
import json
import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import http.client

import dash_seed
import harness

START_S = 10


class Server:
    """A running "loomlat serve": its port, and requests to it on host."""

    def __init__(self, *args, host="127.0.0.1"):
        self.host = host
        self.proc = subprocess.Popen([harness.binary(), "serve", *args], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        harness._children.append(self.proc)
        ready, _, _ = select.select([self.proc.stderr], [], [], START_S)
        line = self.proc.stderr.readline() if ready else ""
        if "listening on http://" not in line:
            raise RuntimeError("serve did not start: %r" % line)
        self.banner = line
        self.port = int(line.rsplit(":", 1)[1].strip("/\n"))
        self.log = []
        self.reader = threading.Thread(target=lambda: self.log.extend(self.proc.stderr), daemon=True)
        self.reader.start()

    def get(self, path, headers=None, timeout=30):
        """(status, headers, body) of GET path."""
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            conn.request("GET", path, headers=headers or {})
            res = conn.getresponse()
            return res.status, dict(res.getheaders()), res.read().decode("utf-8", "replace")
        finally:
            conn.close()

    def json(self, path, **kw):
        status, _, body = self.get(path, **kw)
        try:
            return status, json.loads(body)
        except ValueError:
            return status, body

    def stop(self):
        """SIGTERM; (exit code, stderr)."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = "hung"
        self.reader.join(5)
        return rc, "".join(self.log)


def without_as_of(doc):
    return {k: v for k, v in doc.items() if k != "as_of"} if isinstance(doc, dict) else doc


def api(tap, srv, db):
    status, got = srv.json("/api/admin/latency?range=1h")
    want = db.value("SELECT loomlat.latency_summary('1h')")
    tap.eq(status, 200, "GET /api/admin/latency?range=1h: 200")
    tap.eq(without_as_of(got), without_as_of(want), "... is latency_summary('1h') (as_of aside)")
    status, got = srv.json("/api/admin/latency?range=1h&agent_id=1&min_invocations=0")
    want = db.value("SELECT loomlat.latency_summary('1h', 1, 0)")
    tap.eq(without_as_of(got), without_as_of(want), "agent_id=1&min_invocations=0 as in SQL")
    status, got = srv.json("/api/admin/latency")
    tap.ok(status == 200 and got.get("range") == "24h" and got.get("total_invocations") == 16,
           "no parameters: latency_summary()'s defaults (24h, 16 invocations)", got)
    status, got = srv.json("/api/invocations/" + dash_seed.SHOW_ID)
    want = db.value("SELECT loomlat.invocation_detail('%s')" % dash_seed.SHOW_ID)
    tap.ok(status == 200 and got == want, "GET /api/invocations/ID is invocation_detail()", got)
    status, got = srv.json("/api/invocations/00000000-0000-7000-8000-00000000ffff")
    tap.eq(status, 404, "unknown invocation: 404")
    status, headers, body = srv.get("/?range=7d")
    tap.ok(status == 200 and headers.get("Content-Type", "").startswith("text/html") and
           "default-src 'none'" in headers.get("Content-Security-Policy", ""),
           "GET /: the page, text/html, with a CSP header", status, headers)
    tap.ok('data-selected="7d"' in body and "&lt;script&gt;alert" in body and
           "<script>alert" not in body, "GET /?range=7d: 7d first, agent names escaped")
    status, got = srv.json("/healthz")
    tap.eq((status, got), (200, {"status": "ok"}), "GET /healthz: 200 ok")
    status, got = srv.json("/nothing")
    tap.eq(status, 404, "unknown path: 404")


def bad_parameters(tap, srv, db):
    cases = [("/api/admin/latency?range=2h", "range"),
             ("/api/admin/latency?range=", "range"),
             ("/api/admin/latency?range=24h%00x", "range"),
             ("/api/admin/latency?range=1h&range=24h", "range"),
             ("/api/admin/latency?agent_id=0", "agent_id"),
             ("/api/admin/latency?agent_id=-1", "agent_id"),
             ("/api/admin/latency?agent_id=1e3", "agent_id"),
             ("/api/admin/latency?agent_id=9223372036854775808", "agent_id"),
             ("/api/admin/latency?min_invocations=1000000001", "min_invocations"),
             ("/api/admin/latency?min_invocations=-1", "min_invocations"),
             ("/api/admin/latency?as_of=2031-01-01", "unknown parameter"),
             ("/?range=1y", "range"),
             # injection attempts, one per parameter and in the path
             ("/api/admin/latency?range=24h%27%3B%20DROP%20TABLE%20loomlat.agents%3B--", "range"),
             ("/api/admin/latency?agent_id=1%20OR%201%3D1", "agent_id"),
             ("/api/admin/latency?min_invocations=1%3BSELECT%20pg_sleep(10)", "min_invocations"),
             ("/?agent_id=1)%3B%20DELETE%20FROM%20loomlat.invocations%3B--", "agent_id"),
             ("/api/invocations/%27%20OR%20%271%27%3D%271", "invocation_id"),
             ("/api/invocations/00000000-0000-7000-8000-000000000201%27--", "invocation_id")]
    for path, param in cases:
        status, got = srv.json(path)
        tap.ok(status == 400 and isinstance(got, dict) and got.get("parameter") == param,
               "%s: 400 naming %s" % (path, param), "%r %r" % (status, got))
    status, got = srv.json("/api/admin/latency?agent_id=999")
    tap.ok(status == 400 and "999" in got.get("error", ""),
           "agent_id=999 (no such agent): 400 with the database's reason", got)
    tap.eq(db.value("SELECT count(*) FROM loomlat.agents") +
           db.value("SELECT count(*) FROM loomlat.invocations"), 3 + 16,
           "after the injection attempts every row is still there")


def concurrent_clients(tap, srv):
    paths = ["/api/admin/latency?range=1h", "/?range=24h", "/api/invocations/" + dash_seed.SHOW_ID,
             "/api/admin/latency?range=1h&agent_id=2"]
    start = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(50) as pool:
        got = list(pool.map(lambda i: srv.get(paths[i % len(paths)], timeout=60)[::2], range(200)))
    elapsed = time.monotonic() - start
    statuses = sorted(set(s for s, _ in got))
    tap.eq(statuses, [200], "50 concurrent clients, 200 requests: all 200 (%.1f s)" % elapsed)
    same = {}
    for i, (_, body) in enumerate(got):
        path = paths[i % len(paths)]
        if path.startswith("/?"):  # the page shows as_of = now(): check its ending
            body = body.endswith("</html>\n") and "&lt;script&gt;alert" in body
        elif "latency" in path:
            body = json.dumps(without_as_of(json.loads(body)), sort_keys=True)
        same.setdefault(path, set()).add(body)
    tap.ok(all(len(b) == 1 and True in b or len(b) == 1 and not path.startswith("/?")
               for path, b in same.items()),
           "every path answered the same each time (the page whole each time)",
           {p: len(b) for p, b in same.items()})


def token_rule(tap, db, tmp):
    port = harness.free_port()
    res = harness.loomlat("serve", "--listen", "0.0.0.0:%d" % port, "--db", db.conninfo,
                          timeout=10)
    tap.ok(res.rc == 64 and "--token-file" in res.stderr,
           "--listen 0.0.0.0 without --token-file: exit 64 naming --token-file", *res.explain())
    res = harness.loomlat("serve", "--listen", "localhost:80x", timeout=10)
    tap.ok(res.rc == 64 and "--listen" in res.stderr, "--listen localhost:80x: exit 64",
           *res.explain())
    token = "t0k3n-" + os.urandom(12).hex()
    path = harness.secret_file(tmp, "token", token + "\n")
    srv = Server("--listen", "0.0.0.0:0", "--db", db.conninfo, "--token-file", path)
    status, _ = srv.json("/api/admin/latency?range=1h")
    tap.eq(status, 401, "off loopback, no Authorization: 401")
    status, _ = srv.json("/api/admin/latency?range=1h",
                         headers={"Authorization": "Bearer " + token[:-1]})
    tap.eq(status, 401, "off loopback, a wrong token (one character short): 401")
    status, _ = srv.json("/", headers={"Authorization": "Bearer " + token + "x"})
    tap.eq(status, 401, "off loopback, a wrong token (one character more): 401")
    status, _ = srv.json("/api/admin/latency?range=1h", headers={"Authorization": "Basic " + token})
    tap.eq(status, 401, "off loopback, the token as Basic: 401")
    status, _ = srv.json("/api/admin/latency?range=1h",
                         headers={"Authorization": "Bearer " + token})
    tap.eq(status, 200, "off loopback, the right token: 200")
    status, _ = srv.json("/healthz")
    tap.eq(status, 200, "/healthz needs no token")
    rc, err = srv.stop()
    tap.ok(rc == 0 and token not in err, "stopped with exit 0; the token is not in its output")


def ipv6(tap, db, tmp):
    """[::1] is loopback like 127.0.0.0/8; any other IPv6 address needs a token."""
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        tap.ok(True, "IPv6 # SKIP this machine has no IPv6 loopback")
        return
    srv = Server("--listen", "[::1]:0", "--db", db.conninfo, host="::1")
    status, got = srv.json("/api/admin/latency?range=1h")
    want = db.value("SELECT loomlat.latency_summary('1h')")
    tap.ok(status == 200 and without_as_of(got) == without_as_of(want),
           "--listen [::1]:0: latency_summary('1h') over IPv6 loopback, no token", status)
    tap.ok(srv.banner.startswith("loomlat: listening on http://[::1]:"),
           "it names its address in brackets", srv.banner)
    rc, _ = srv.stop()
    tap.eq(rc, 0, "... and stops with exit 0")
    for listen in ("[::]:%d" % harness.free_port(), "[::ffff:127.0.0.1]:%d" % harness.free_port()):
        res = harness.loomlat("serve", "--listen", listen, "--db", db.conninfo, timeout=10)
        tap.ok(res.rc == 64 and "--token-file" in res.stderr,
               "--listen %s without --token-file: exit 64 naming --token-file" % listen,
               *res.explain())
    for listen in ("[::1:8080", "::1:8080", "[::1]", "[]:8080", "[127.0.0.1]:8080"):
        res = harness.loomlat("serve", "--listen", listen, timeout=10)
        tap.ok(res.rc == 64 and "--listen" in res.stderr, "--listen %s: exit 64" % listen,
               *res.explain())
    token = "t0k3n-" + os.urandom(12).hex()
    path = harness.secret_file(tmp, "token6", token + "\n")
    srv = Server("--listen", "[::]:0", "--db", db.conninfo, "--token-file", path, host="::1")
    status, _ = srv.json("/api/admin/latency?range=1h")
    tap.eq(status, 401, "--listen [::]:0 with a token: no Authorization, 401")
    status, _ = srv.json("/api/admin/latency?range=1h", headers={"Authorization": "Bearer " + token})
    tap.eq(status, 200, "... the right token, 200")
    srv.stop()


def pooled_connections(tap, db):
    """Connections are reused, and when the database goes away mid-run the
    broken ones are dropped: 503 while it is away, 200 again once it is back,
    with no restart of serve."""
    proxy = harness.TcpProxy(*harness.pg_target())
    srv = Server("--listen", "127.0.0.1:0", "--db",
                 "host=127.0.0.1 port=%d dbname=%s connect_timeout=2" % (proxy.port, db.name))
    statuses = [srv.json("/api/admin/latency?range=1h")[0] for _ in range(20)]
    tap.ok(statuses == [200] * 20 and proxy.accepted <= 2,
           "20 requests one after another: all 200 over %d database connection(s)"
           % proxy.accepted, statuses)
    proxy.cut()  # the idle pooled connection dies while nobody asks
    proxy.restore()
    status, _ = srv.json("/api/admin/latency?range=1h")
    tap.eq(status, 200, "database connections cut while idle: the next request is 200 "
           "(the dead idle connection is dropped before use)")
    proxy.cut()
    start = time.monotonic()
    statuses = [srv.json("/api/admin/latency?range=1h", timeout=20)[0] for _ in range(3)]
    tap.ok(statuses == [503] * 3 and time.monotonic() - start < 10,
           "database gone mid-run: 503 in %.1f s for 3 requests" % (time.monotonic() - start),
           statuses)
    proxy.restore()
    statuses = [srv.json("/api/admin/latency?range=1h", timeout=20)[0] for _ in range(2)]
    tap.eq(statuses, [200, 200], "database back: 200 again, the broken connection dropped")
    rc, _ = srv.stop()
    tap.eq(rc, 0, "... and serve stops with exit 0")
    proxy.close()


def blackhole():
    """A socket that accepts connections and never answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    held = []
    def accept():
        while True:
            try:
                held.append(sock.accept()[0])
            except OSError:
                return
    threading.Thread(target=accept, daemon=True).start()
    return sock


def database_down(tap):
    port = harness.free_port()
    srv = Server("--listen", "127.0.0.1:0", "--db", "host=127.0.0.1 port=%d dbname=x" % port)
    start = time.monotonic()
    status, got = srv.json("/api/admin/latency?range=1h", timeout=20)
    tap.ok(status == 503 and time.monotonic() - start < 3,
           "nothing listening at the database's port: 503 in %.2f s" % (time.monotonic() - start),
           got)
    status, _ = srv.json("/healthz")
    tap.eq(status, 503, "... and /healthz 503")
    srv.stop()
    hole = blackhole()
    srv = Server("--listen", "127.0.0.1:0", "--db",
                 "host=127.0.0.1 port=%d dbname=x" % hole.getsockname()[1])
    start = time.monotonic()
    status, got = srv.json("/?range=1h", timeout=30)
    elapsed = time.monotonic() - start
    tap.ok(status == 503 and elapsed < 10,
           "a database that accepts and never answers: 503 in %.1f s (connect_timeout)" % elapsed,
           got)
    # SIGTERM while such a request is in flight: it still gets its answer
    result = {}
    t = threading.Thread(target=lambda: result.update(r=srv.json("/api/admin/latency",
                                                                 timeout=30)))
    t.start()
    time.sleep(1)
    rc, _ = srv.stop()
    t.join(30)
    tap.eq((rc, result.get("r", (None,))[0]), (0, 503),
           "SIGTERM during a request: the request is answered (503), then exit 0")
    hole.close()


def main():
    tap = harness.Tap()
    harness.require_environment(tap)
    db = dash_seed.seed("serve", as_of="now")
    srv = Server("--listen", "127.0.0.1:0", "--db", db.conninfo)
    api(tap, srv, db)
    bad_parameters(tap, srv, db)
    concurrent_clients(tap, srv)
    rc, log = srv.stop()
    tap.eq(rc, 0, "SIGTERM: exit 0") or tap.diag(log)
    with tempfile.TemporaryDirectory() as tmp:
        token_rule(tap, db, tmp)
        ipv6(tap, db, tmp)
    pooled_connections(tap, db)
    database_down(tap)


if __name__ == "__main__":
    main()
