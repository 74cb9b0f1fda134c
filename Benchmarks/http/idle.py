#!/usr/bin/env python3
"""Holds N idle keep-alive connections to a server and reports what they cost it in memory.

    python3 Benchmarks/http/idle.py PORT PIDS N [--tls]

Each connection makes one request (GET /healthz, answered 200) and then stays open and idle.
PIDS is a comma-separated list of the server's processes; their VmRSS is summed from /proc before
the connections open and once all N are held. Prints one line: connections held, RSS before and
after (KiB), and KiB per connection. Exits non-zero if a connection fails or is closed by the server
while held (the server's keep-alive timeout must be longer than the run).
"""
import socket
import ssl
import sys
import time


def rss_kib(pids):
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total


def main():
    port, pids, n = int(sys.argv[1]), [int(p) for p in sys.argv[2].split(",")], int(sys.argv[3])
    use_tls = "--tls" in sys.argv
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    before = rss_kib(pids)
    conns = []
    request = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=30)
        if use_tls:
            s = context.wrap_socket(s, server_hostname="localhost")
        s.sendall(request)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                sys.exit(f"connection {len(conns)} closed before its answer")
            data += chunk
        if not data.startswith(b"HTTP/1.1 200"):
            sys.exit(f"connection {len(conns)}: {data[:40]!r}")
        conns.append(s)
    time.sleep(1)
    after = rss_kib(pids)
    # Still open? A readable socket here would be the server closing it.
    for s in conns:
        s.setblocking(False)
        try:
            if s.recv(1) == b"":
                sys.exit("the server closed an idle connection during the run")
        except (BlockingIOError, ssl.SSLWantReadError):
            pass
    print(f"{n} held: RSS {before} -> {after} KiB, {(after - before) / n:.2f} KiB per connection")
    for s in conns:
        s.close()


if __name__ == "__main__":
    main()
