"""One side of a request/response exchange shape, for bench/kernel/stall-hunt.ts: the kernel's
server or client (the other side is the stack, or this script again over veth).

    python3 rr-peer.py '{"role": "server"|"client", "host": ..., "port": ..., "req": bytes,
                         "res": bytes, "n": exchanges, "how": "one"|"two"|"small",
                         "nodelay": bool, "newconn": bool, "shut": bool, "idle": s,
                         "slow": s, "rcvbuf": bytes}'

how: the response (and request) written in one write, as a 200-byte head then the rest, or in
100-byte writes. newconn: a connection per exchange, closed by the client after the response;
shut: the server half-closes after each response (newconn implied). idle: seconds of quiet
before each exchange. slow: seconds the client waits after its request before it reads.
rcvbuf: the client's SO_RCVBUF (set before connect). The client prints a JSON line with the
milliseconds of each exchange (connect included for newconn); the server prints `ready` and
serves until it is killed.
"""
import json
import socket
import sys
import time

c = json.loads(sys.argv[1])


def write(s, n, how):
    body = b'x' * n
    if how == 'two' and n > 200:
        s.sendall(body[:200])
        s.sendall(body[200:])
    elif how == 'small':
        for i in range(0, n, 100):
            s.sendall(body[i:i + 100])
    else:
        s.sendall(body)


def read_exact(s, n):
    got = 0
    while got < n:
        b = s.recv(min(1 << 20, n - got))
        if not b:
            return False
        got += len(b)
    return True


def serve():
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((c['host'], c['port']))
    ls.listen(8)
    print('ready', flush=True)
    while True:
        s, _ = ls.accept()
        if c.get('nodelay'):
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        while read_exact(s, c['req']):
            write(s, c['res'], c['how'])
            if c.get('shut'):
                s.shutdown(socket.SHUT_WR)
                while s.recv(65536):
                    pass
                break
        s.close()


def client():
    times = []
    s = None
    for _ in range(c['n']):
        if c.get('idle'):
            time.sleep(c['idle'])
        t0 = time.monotonic()
        if s is None:
            s = socket.socket()
            if c.get('rcvbuf'):
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, c['rcvbuf'])
            if c.get('nodelay'):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            s.settimeout(30)
            s.connect((c['host'], c['port']))
        write(s, c['req'], c['how'])
        if c.get('slow'):
            time.sleep(c['slow'])
        if not read_exact(s, c['res']):
            raise SystemExit('short response')
        if c.get('shut'):
            while s.recv(65536):
                pass
        if c.get('newconn') or c.get('shut'):
            s.close()
            s = None
        times.append((time.monotonic() - t0) * 1000)
    if s is not None:
        s.close()
    print(json.dumps({'ms': times}), flush=True)


serve() if c['role'] == 'server' else client()
