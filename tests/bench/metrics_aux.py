#!/usr/bin/env python3
"""The two sides of a metrics pipeline for the benchmark's scenario 9.

    metrics_aux.py sink OUT          a StatsD sink: binds a free UDP port on
                                     127.0.0.1 (written to OUT.port), counts
                                     datagrams, lines and bytes; on SIGTERM
                                     writes "datagrams lines bytes" to OUT
    metrics_aux.py scrape OUT URL... a scraper: GETs every URL once a second
                                     (as a Prometheus with scrape_interval 1s);
                                     on SIGTERM writes "scrapes failures
                                     median_bytes median_ms" to OUT

Standard library only.
"""
import signal
import socket
import statistics
import sys
import time
import urllib.request


def finish(out, text):
    with open(out, "w") as f:
        f.write(text + "\n")
    sys.exit(0)


def sink(out):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    s.bind(("127.0.0.1", 0))
    with open(out + ".port", "w") as f:
        f.write(str(s.getsockname()[1]))
    n = lines = size = 0

    def done(*_):
        finish(out, f"{n} {lines} {size}")

    signal.signal(signal.SIGTERM, done)
    while True:
        d = s.recv(65536)
        n += 1
        lines += d.count(b"\n") + (0 if d.endswith(b"\n") else 1)
        size += len(d)


def scrape(out, urls):
    ok = bad = 0
    sizes, times = [], []

    def done(*_):
        finish(out, f"{ok} {bad} {statistics.median(sizes) if sizes else 0} "
                    f"{round(statistics.median(times), 3) if times else 0}")

    signal.signal(signal.SIGTERM, done)
    while True:
        t0 = time.monotonic()
        for u in urls:
            try:
                a = time.monotonic()
                with urllib.request.urlopen(u, timeout=1) as r:
                    body = r.read()
                times.append((time.monotonic() - a) * 1000)
                sizes.append(len(body))
                ok += 1
            except OSError:
                bad += 1
        time.sleep(max(0.0, 1.0 - (time.monotonic() - t0)))


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "sink":
        sink(sys.argv[2])
    elif len(sys.argv) >= 4 and sys.argv[1] == "scrape":
        scrape(sys.argv[2], sys.argv[3:])
    else:
        sys.exit(__doc__)
