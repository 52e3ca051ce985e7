#!/usr/bin/env python3
"""Load client of bench/report.sh: N clients, each on its own keep-alive
connection, send GET PATH one after another (no think time) for a fixed
time; prints one line "requests errors p50 p95 p99 max" (ms, over every
answered request, the first second of each client left out as warm-up).

Usage: report_load.py HOST PORT PATH [--clients N] [--seconds S]"""

import argparse
import http.client
import threading
import time


def client(host, port, path, until, warm_until, times, errors):
    """One connection; reconnect after a failure."""
    conn = None
    while time.monotonic() < until:
        if conn is None:
            conn = http.client.HTTPConnection(host, port, timeout=30)
        start = time.monotonic()
        try:
            conn.request("GET", path)
            res = conn.getresponse()
            res.read()
            ok = res.status == 200
        except (OSError, http.client.HTTPException):
            ok = False
            conn.close()
            conn = None
        end = time.monotonic()
        if start < warm_until:
            continue
        if ok:
            times.append((end - start) * 1000)
        else:
            errors.append(1)
    if conn is not None:
        conn.close()


def percentile(sorted_ms, p):
    """Nearest rank."""
    if not sorted_ms:
        return float("nan")
    return sorted_ms[min(len(sorted_ms) - 1, max(0, int(-(-p * len(sorted_ms) // 1)) - 1))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    ap.add_argument("path")
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=20)
    a = ap.parse_args()
    times, errors = [], []
    now = time.monotonic()
    threads = [threading.Thread(target=client, args=(a.host, a.port, a.path, now + 1 + a.seconds,
                                                     now + 1, times, errors))
               for _ in range(a.clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    times.sort()
    print("%d %d %.1f %.1f %.1f %.1f" % (len(times), len(errors), percentile(times, 0.5),
                                         percentile(times, 0.95), percentile(times, 0.99),
                                         times[-1] if times else float("nan")))


if __name__ == "__main__":
    main()
