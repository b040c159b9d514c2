"""Sends a fixed number of bytes to HOST:PORT (a discard server), half-closes and waits for the
server's FIN, so that everything sent has been received. Prints a JSON line with the bytes sent.

    python3 bulk-sender.py HOST PORT MIB
"""
import json
import socket
import sys

host, port, mib = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
chunk = b'x' * (1 << 20)
s = socket.create_connection((host, port), timeout=60)
for _ in range(mib):
    s.sendall(chunk)
s.shutdown(socket.SHUT_WR)
while s.recv(65536):
    pass
s.close()
print(json.dumps({'bytes': mib << 20}))
