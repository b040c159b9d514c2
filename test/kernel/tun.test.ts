/**
 * The TUN link against the Linux kernel: a persistent TUN device in a namespace of the test's
 * own, the kernel side at 198.18.0.1/25 on it, our stack at 198.18.0.2 behind it (no Ethernet,
 * no ARP). Ping, a TCP echo with and without offload, and the TCP/UDP/ICMP forwarders answering
 * for 198.18.0.128/25, which the kernel routes into the TUN device.
 */
import assert from 'node:assert/strict';
import { mergeMap } from 'rxjs';
import { createStack, type Stack } from '../../streams/stack/create-stack.js';
import { tunLink, type TunLink } from '../../streams/links/tun-link.js';
import { echoConnection, echoService } from '../../streams/services/echo.js';
import { describeKernelPeer, useKernelPeer, type KernelPeer } from '../helpers/netns.js';
import { PY_ICMP_PING } from '../helpers/py-icmp-ping.js';
import { PY_READ_TO_EOF } from '../helpers/python.js';

const STACK_IP = '198.18.0.2';
const TUN = 'rxtun0';

/** python3: sends `n` pattern bytes to host:port, half-closes, reads to EOF; prints "exact N" or "differ N". */
const PY_ECHO = `import socket, sys, threading
${PY_READ_TO_EOF}host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
data = bytes(((i * 31) ^ (i >> 9)) & 0xff for i in range(n))
s = socket.create_connection((host, port), timeout=20)
def send():
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
t = threading.Thread(target=send)
t.start()
got = read_to_eof(s)
t.join()
print(('exact' if bytes(got) == data else 'differ'), len(got), s.getsockname()[1])
`;

function stackOn(peer: KernelPeer, offload: boolean): { stack: Stack; link: TunLink } {
  const link = tunLink({ name: TUN, netns: peer.netns, offload });
  const stack = createStack({ interfaces: [{ name: 'tun0', link, ipv4: [`${STACK_IP}/25`] }], routes: [{ destination: '0.0.0.0/0', interface: 'tun0' }] });
  return { stack, link };
}

describeKernelPeer('TUN link against the Linux kernel', function () {
  this.timeout(60_000);
  const peer = useKernelPeer({ tapName: TUN, mode: 'tun', hostCidr: '198.18.0.1/25' });

  it('the kernel pings the stack over TUN (IP packets, no Ethernet, no ARP)', async () => {
    const { stack, link } = stackOn(peer(), true);
    try {
      assert.equal(link.layer, 'ip');
      assert.equal(link.device.kind, 'tun');
      const out = await peer().python(`${PY_ICMP_PING}\nprint(sum(1 for seq in range(20) if ping('${STACK_IP}', seq, 56) is True), ping('${STACK_IP}', 99, 4000))`);
      assert.equal(out.trim(), '20 True');
      assert.equal(stack.stats().icmp.txEchoReplies, 21);
      assert.equal(stack.stats()['eth:tun0' as 'eth:x'], undefined, 'no Ethernet layer');
    } finally {
      stack.close();
    }
  });

  for (const offload of [true, false]) {
    it(`TCP echo over TUN, byte-exact (offload ${offload})`, async () => {
      const { stack, link } = stackOn(peer(), offload);
      const server = echoService(stack, 7);
      try {
        assert.equal(link.device.offload, offload);
        const out = await peer().python(PY_ECHO, [STACK_IP, '7', String(3 * 1024 * 1024)], { timeoutMs: 40_000 });
        assert.match(out.trim(), /^exact 3145728 \d+$/);
        if (offload) assert.ok(link.stats().rxSuperFrames > 0, 'the kernel sent large TCP segments over TUN');
        if (offload) assert.ok(link.stats().txSuperFrames > 0, 'our TCP sent large segments the kernel cut');
        assert.equal(stack.stats().tcp.drops.badChecksum, 0);
      } finally {
        server.unsubscribe();
        stack.close();
      }
    });
  }

  it('forwarders: the kernel reaches 198.18.0.200:80 (TCP), :53 (UDP) and pings it through the TUN device', async () => {
    const p = peer();
    await p.ip(['route', 'add', '198.18.0.128/25', 'dev', TUN]);
    const { stack } = stackOn(p, true);
    const seen: string[] = [];
    const tcp = stack.tcp.forward().pipe(
      mergeMap((req) => {
        seen.push(`tcp ${req.localAddress}:${req.localPort} from ${req.remoteAddress}`);
        if (req.localPort !== 80) {
          req.refuse('rst');
          return [];
        }
        return req.accept();
      }),
    ).subscribe((c) => echoConnection(c).subscribe({ error: () => undefined }));
    const udp = stack.udp.forward().subscribe((s) => {
      seen.push(`udp ${s.localAddress}:${s.localPort}`);
      s.datagrams$.subscribe((d) => s.send(new TextEncoder().encode(`re:${new TextDecoder().decode(d)}`)));
    });
    const icmp = stack.icmp.forwardEcho((r) => r.to === '198.18.0.200').subscribe();
    try {
      const echoed = await p.python(PY_ECHO, ['198.18.0.200', '80', String(1024 * 1024)], { timeoutMs: 40_000 });
      assert.match(echoed.trim(), /^exact 1048576 \d+$/);
      const refused = await p.python(`import socket
try:
    socket.create_connection(('198.18.0.200', 81), timeout=5)
    print('connected')
except ConnectionRefusedError:
    print('refused')`);
      assert.equal(refused.trim(), 'refused');
      const udpOut = await p.python(`import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(5)
s.sendto(b'hello', ('198.18.0.200', 53))
data, addr = s.recvfrom(100)
print(data.decode(), addr[0], addr[1])`);
      assert.equal(udpOut.trim(), 're:hello 198.18.0.200 53');
      const pingOut = await p.python(`${PY_ICMP_PING}\nprint(ping('198.18.0.200', 1, 56), ping('198.18.0.201', 2, 56, 0.5))`);
      assert.equal(pingOut.trim(), 'True None');
      assert.deepEqual(seen.slice(0, 3), ['tcp 198.18.0.200:80 from 198.18.0.1', 'tcp 198.18.0.200:81 from 198.18.0.1', 'udp 198.18.0.200:53']);
      assert.equal(stack.stats().tcpForward.established, 1);
    } finally {
      tcp.unsubscribe();
      udp.unsubscribe();
      icmp.unsubscribe();
      stack.close();
    }
  });
});
