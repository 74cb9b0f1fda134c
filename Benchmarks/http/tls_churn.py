#!/usr/bin/env python3
"""TLS connection churn against a running server: does it survive, and does it leak?

    python3 Benchmarks/http/tls_churn.py PORT SECONDS [THREADS]

The server must speak TLS on PORT, with authentication off or /healthz open. Each thread loops
over a random mix of connections:
- ok: a TLS handshake, GET /healthz, then a clean close;
- abort: half a ClientHello, then a close;
- rst: a TCP reset, before or after a TLS request;
- nonotify: a request, then a close without close_notify;
- plain: plain HTTP on the TLS port.

Prints the counts per kind and the errors (an `ok` that was not answered 200 counts as one). Read
the server's open-connection gauge and its RSS and descriptors afterwards to check for leaks.
"""
import random
import socket
import ssl
import struct
import sys
import threading
import time

PORT, SECONDS = int(sys.argv[1]), float(sys.argv[2])
THREADS = int(sys.argv[3]) if len(sys.argv) > 3 else 8
stop = time.time() + SECONDS
counts = {"ok": 0, "abort": 0, "rst": 0, "nonotify": 0, "plain": 0, "err": 0}
lock = threading.Lock()
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE


def bump(kind):
    with lock:
        counts[kind] += 1


def worker(seed):
    r = random.Random(seed)
    while time.time() < stop:
        kind = r.choice(["ok", "ok", "abort", "rst", "nonotify", "plain"])
        try:
            s = socket.create_connection(("127.0.0.1", PORT), timeout=5)
            if kind == "abort":
                s.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(r.randrange(256) for _ in range(r.randrange(60))))
                s.close()
            elif kind == "rst":
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                if r.random() < 0.5:
                    t = ctx.wrap_socket(s, server_hostname="localhost")
                    t.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                    t.close()
                else:
                    s.close()
            elif kind == "plain":
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                s.recv(1000)
                s.close()
            else:
                t = ctx.wrap_socket(s, server_hostname="localhost")
                t.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                answer = t.recv(1000)
                if kind == "nonotify":
                    t.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                    socket.socket(fileno=t.detach()).close()
                else:
                    t.close()
                if not answer.startswith(b"HTTP/1.1 200"):
                    bump("err")
                    continue
            bump(kind)
        except Exception:
            bump("err")


threads = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(counts)
sys.exit(1 if counts["err"] else 0)
