/**
 * The kernel side of the ICMP tests in python3 with the standard library: ping(8) is not
 * installed on a fresh machine, so a raw ICMP socket plays it.
 */

/** python3 source of `csum(b)`, the Internet checksum (RFC 1071) of the bytes `b`; needs `import struct`. */
export const PY_INET_CSUM = `def csum(b):
    if len(b) % 2:
        b += b'\\0'
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xffff)
    s += s >> 16
    return (~s) & 0xffff
`;

/**
 * python3 source defining, on a raw ICMP socket `sock` with echo identifier `ident`:
 * - `csum(b)`: the Internet checksum of `b` (PY_INET_CSUM);
 * - `echo_request(seq, data)`: an echo request message (no IP header) carrying `data`;
 * - `icmp_in(deadline)`: each ICMP message received before `deadline` (a `time.time()` value),
 *   as `(message without its IP header, source address)`;
 * - `ping(dst, seq, size, wait=2.0)`: one echo request of `size` pattern bytes to `dst`; True if
 *   its reply came back intact within `wait` seconds, False if altered, None if none came.
 * It imports socket, struct, os, time and sys.
 */
export const PY_ICMP_PING = `import socket, struct, os, time, sys
${PY_INET_CSUM}ident = os.getpid() & 0xffff
sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
def echo_request(seq, data):
    hdr = struct.pack('!BBHHH', 8, 0, 0, ident, seq)
    return struct.pack('!BBHHH', 8, 0, csum(hdr + data), ident, seq) + data
def icmp_in(deadline):
    while True:
        left = deadline - time.time()
        if left <= 0:
            return
        sock.settimeout(left)
        try:
            buf, addr = sock.recvfrom(70000)
        except socket.timeout:
            return
        yield buf[(buf[0] & 15) * 4:], addr[0]
def ping(dst, seq, size, wait=2.0):
    data = bytes(((i * 7 + seq) & 0xff) for i in range(size))
    sock.sendto(echo_request(seq, data), (dst, 0))
    for msg, src in icmp_in(time.time() + wait):
        t, code, _, rid, rseq = struct.unpack('!BBHHH', msg[:8])
        if t == 0 and src == dst and rid == ident and rseq == seq:
            return msg[8:] == data and csum(msg) == 0
    return None
`;
