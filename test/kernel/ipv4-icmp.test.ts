/**
 * ARP, IPv4 and ICMP against the Linux kernel: our stack runs in this process on a TAP device
 * (198.18.0.2, its own MAC 02:00:00:00:00:02), the kernel is on the other side (198.18.0.1) in a
 * namespace of the test's own (test/helpers/netns.ts). The kernel side is python3 with the
 * standard library: a raw ICMP socket plays ping(8) (not installed on a fresh machine), and an
 * AF_PACKET socket on the TAP device sends frames the kernel would never build itself (a bad
 * IPv4 checksum, a lone fragment).
 */
import assert from 'node:assert/strict';
import { lastValueFrom, tap, toArray } from 'rxjs';
import { createStack, type Stack, type StackOptions } from '../../streams/stack/create-stack.js';
import type { StackConfigInput } from '../../src/config/stack-config.js';
import type { Link } from '../../streams/links/link.js';
import type { TapLink } from '../../streams/links/tap-link.js';
import { formatMac } from '../../src/mac.js';
import { parseEthernet, EtherType } from '../../src/wire/ethernet.js';
import { parseArp, ArpOp } from '../../src/wire/arp.js';
import { parseIpv4 } from '../../src/wire/ipv4.js';
import { stat } from '../streams/stack/raw-peer.js';
import { waitFor } from '../helpers/wait-for.js';
import { describeKernelPeer, useKernelPeer, type KernelPeer } from '../helpers/netns.js';
import { useCloseAfterEach } from '../helpers/close-after-each.js';
import { PY_ICMP_PING } from '../helpers/py-icmp-ping.js';

const STACK_IP = '198.18.0.2';
const HOST_IP = '198.18.0.1';
const STACK_MAC = '02:00:00:00:00:02';

/** python3: the raw-socket ping (see PY_ICMP_PING) towards the stack: ping(DST, seq, size). */
const PY_PING = `${PY_ICMP_PING}
DST = '${STACK_IP}'
`;

/**
 * python3: builds Ethernet frames kernel side -> stack and sends them with an AF_PACKET socket
 * on the TAP device. argv[1] is the TAP device name, argv[2] its MAC.
 */
const PY_FRAMES = `${PY_PING}
TAP = sys.argv[1]
TAP_MAC = bytes.fromhex(sys.argv[2].replace(':', ''))
STACK_MAC = bytes.fromhex('${STACK_MAC.replace(/:/g, '')}')
def ip_header(payload_len, ident_, flags_frag, proto=1, bad_checksum=False):
    src = socket.inet_aton('${HOST_IP}')
    dst = socket.inet_aton('${STACK_IP}')
    h = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + payload_len, ident_, flags_frag, 64, proto, 0, src, dst)
    c = csum(h)
    if bad_checksum:
        c ^= 0x00ff
    return h[:10] + struct.pack('!H', c) + h[12:]
def echo(seq, size):
    return echo_request(seq, bytes((i & 0xff) for i in range(size)))
raw = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
raw.bind((TAP, 0))
def send_ip(packet):
    raw.send(STACK_MAC + TAP_MAC + b'\\x08\\x00' + packet)
`;

describeKernelPeer('kernel peer: ARP, IPv4 and ICMP', () => {
  const peer = useKernelPeer();
  const closeAfterTest = useCloseAfterEach<Stack>();

  function stackOn(p: KernelPeer, extra: Partial<StackConfigInput<Link>> = {}, options: StackOptions = {}): { stack: Stack; link: TapLink } {
    const link = p.attach({ mac: STACK_MAC });
    const s = createStack({ interfaces: [{ name: 'eth0', link, mac: STACK_MAC, ipv4: [`${STACK_IP}/24`] }], ...extra }, options);
    closeAfterTest(s);
    return { stack: s, link };
  }

  it('the kernel pings the stack 100 times with no loss', async () => {
    const { stack: s } = stackOn(peer());
    const out = await peer().python(`${PY_PING}
ok = sum(1 for seq in range(100) if ping(DST, seq, 56) is True)
print('replies', ok)`, [], { timeoutMs: 60_000 });
    assert.equal(out.trim(), 'replies 100');
    assert.equal(stat(s, 'icmp', 'rxEchoRequests'), 100);
    assert.equal(stat(s, 'icmp', 'txEchoReplies'), 100);
    assert.equal(stat(s, 'ipv4', 'drops', 'badChecksum'), 0);
  }).timeout(90_000);

  it('pings with 1472, 4000 and 8000-byte payloads succeed (reassembled and fragmented both ways)', async () => {
    const { stack: s } = stackOn(peer());
    const out = await peer().python(`${PY_PING}
for i, size in enumerate((1472, 4000, 8000)):
    print(size, ping(DST, i, size))`);
    assert.equal(out.trim(), '1472 True\n4000 True\n8000 True');
    assert.equal(stat(s, 'ipv4', 'rxReassembled'), 2, 'the 4000 and 8000-byte requests came in fragments');
    assert.ok(stat(s, 'ipv4', 'txFragments') >= 3 + 6, 'and their replies left in fragments');
    assert.equal(s.ipv4.reassembler.bytesHeld, 0);
  }).timeout(30_000);

  it('the stack pings the kernel (small and fragmented)', async () => {
    const { stack: s } = stackOn(peer());
    const small = await lastValueFrom(s.icmp.ping(HOST_IP, { count: 5, interval: 50, timeout: 2000 }).pipe(toArray()));
    assert.deepEqual(small.map((r) => r.seq), [0, 1, 2, 3, 4]);
    for (const r of small) {
      assert.equal(r.from, HOST_IP);
      assert.equal(r.bytes, 56);
      assert.equal(r.ttl, 64);
    }
    const big = await lastValueFrom(s.icmp.ping(HOST_IP, { size: 8000, timeout: 2000 }));
    assert.equal(big.bytes, 8000);
    assert.equal(stat(s, 'ipv4', 'rxReassembled'), 1, 'the kernel’s reply came in fragments');
    assert.ok(s.arp.entries().some((e) => e.ip === HOST_IP && e.state === 'reachable'));
  }).timeout(30_000);

  it('the kernel’s neighbour table shows the stack’s MAC, and the stack’s shows the kernel’s', async () => {
    const { stack: s, link } = stackOn(peer());
    const out = await peer().python(`${PY_PING}
print(ping(DST, 1, 56))`);
    assert.equal(out.trim(), 'True');
    const neighbours = await peer().neighbours();
    const entry = neighbours.find((n) => n.dst === STACK_IP);
    assert.ok(entry, `no entry for ${STACK_IP} in ${JSON.stringify(neighbours)}`);
    assert.equal(entry.lladdr, STACK_MAC);
    assert.ok(entry.state.includes('REACHABLE') || entry.state.includes('STALE') || entry.state.includes('DELAY'), entry.state.join(','));
    assert.notEqual(link.device.mac, STACK_MAC, 'the stack does not borrow the TAP device’s MAC');
    const ours = s.arp.entries().find((e) => e.ip === HOST_IP);
    assert.equal(ours?.mac, link.device.mac);
  }).timeout(30_000);

  it('answers the kernel’s unicast ARP re-validation (DELAY, then PROBE)', async () => {
    const dev = peer().tapName;
    // Make the kernel's entry need re-validation fast: reachable ~0.5 s, probe 1 s after use instead of 5.
    await peer().run('sysctl', ['-q', '-w', `net.ipv4.neigh.${dev}.base_reachable_time_ms=500`, `net.ipv4.neigh.${dev}.delay_first_probe_time=1`]);
    const unicastRequests: number[] = [];
    const { stack: s } = stackOn(peer(), {}, {
      hooks: {
        link: { up: tap((frame) => {
          const e = parseEthernet(frame);
          if (!e.ok || e.value.ethertype !== EtherType.ARP || (e.value.dst[0] & 1) === 1) return;
          const a = parseArp(e.value.payload);
          if (a.ok && a.value.op === ArpOp.REQUEST) unicastRequests.push(Date.now());
        }) },
      },
    });
    // Keep using the entry: once its reachable time (~0.5 s) is over, the kernel moves it to
    // DELAY and then PROBE, which asks the known MAC by unicast ARP requests.
    await waitFor('a unicast ARP request from the kernel', async () => {
      assert.equal((await peer().python(`${PY_PING}\nprint(ping(DST, 1, 56))`)).trim(), 'True');
      return unicastRequests.length > 0 ? true : undefined;
    }, { timeoutMs: 15_000, intervalMs: 500 });
    const entry = await waitFor('the kernel entry to be reachable again', async () =>
      (await peer().neighbours()).find((n) => n.dst === STACK_IP && n.state.includes('REACHABLE')), { timeoutMs: 5_000, intervalMs: 50 });
    assert.equal(entry.lladdr, STACK_MAC);
    assert.ok(stat(s, 'arp:eth0', 'txReplies') >= 2, 'answered the broadcast and the unicast request');
  }).timeout(40_000);

  it('a datagram to an address off the subnet goes to the gateway’s MAC', async () => {
    // The stack's subnet is 198.18.0.0/25 with the kernel (198.18.0.1) as default gateway, so
    // 198.18.0.200 is off the subnet (and still inside the test range).
    const sent: { dst: string; ipDst: number }[] = [];
    const link = peer().attach({ mac: STACK_MAC });
    const s = closeAfterTest(createStack(
      { interfaces: [{ name: 'eth0', link, mac: STACK_MAC, ipv4: [`${STACK_IP}/25`] }], routes: [{ destination: '0.0.0.0/0', gateway: HOST_IP }] },
      {
        hooks: {
          link: { down: tap((frame) => {
            const e = parseEthernet(frame);
            const ip = e.ok && e.value.ethertype === EtherType.IPV4 ? parseIpv4(e.value.payload) : undefined;
            if (e.ok && ip?.ok) sent.push({ dst: formatMac(e.value.dst), ipDst: ip.value.dst });
          }) },
        },
      },
    ));
    // The kernel does not forward (ip_forward is 0 in a new namespace): no reply, just the frame.
    await assert.rejects(lastValueFrom(s.icmp.ping('198.18.0.200', { timeout: 3000 })), (err: Error & { code?: string }) => err.code === 'ETIMEDOUT');
    const toFar = sent.filter((f) => f.ipDst === (198 << 24 | 18 << 16 | 200) >>> 0);
    assert.equal(toFar.length, 1);
    assert.equal(toFar[0].dst, link.device.mac, 'the TAP device’s (kernel side) MAC, the gateway');
    assert.ok(!s.arp.entries().some((e) => e.ip === '198.18.0.200'), 'never ARPed for the destination');
    assert.ok(s.arp.entries().some((e) => e.ip === HOST_IP && e.mac === link.device.mac));
  }).timeout(30_000);

  it('a ping with a bad IPv4 checksum gets no reply (and a good one right after does)', async () => {
    const { stack: s, link } = stackOn(peer());
    const out = await peer().python(`${PY_FRAMES}
bad = echo(1, 56)
send_ip(ip_header(len(bad), 0x101, 0, bad_checksum=True) + bad)
good = echo(2, 56)
send_ip(ip_header(len(good), 0x102, 0) + good)
got = set()
for msg, src in icmp_in(time.time() + 2):
    t, code, _, rid, rseq = struct.unpack('!BBHHH', msg[:8])
    if t == 0 and rid == ident:
        got.add(rseq)
print('replies', sorted(got))`, [peer().tapName, link.device.mac]);
    assert.equal(out.trim(), 'replies [2]');
    assert.equal(stat(s, 'ipv4', 'drops', 'badChecksum'), 1);
    assert.equal(stat(s, 'icmp', 'rxEchoRequests'), 1);
  }).timeout(30_000);

  it('fragments that never complete do not keep memory once they time out', async () => {
    const { stack: s, link } = stackOn(peer(), { ipv4: { reassembly: { timeoutMs: 1000 } } });
    const kernel = peer().python(`${PY_FRAMES}
msg = echo(7, 56)
first = msg[:32]
send_ip(ip_header(len(first), 0x4242, 0x2000) + first)  # MF, offset 0: the rest never comes
sent = time.time()
for msg, src in icmp_in(sent + 5):
    if msg[0] == 11:
        quoted = msg[8:]
        qid = struct.unpack('!H', quoted[4:6])[0]
        print('time-exceeded code', msg[1], 'quotes id', hex(qid), 'after', round(time.time() - sent, 1))
        break
else:
    print('no time exceeded')`, [peer().tapName, link.device.mac], { timeoutMs: 15_000 });
    const held = await waitFor('the fragment to be held', () => (s.ipv4.reassembler.bytesHeld > 0 ? s.ipv4.reassembler.bytesHeld : undefined));
    assert.equal(held, 32 + 64, 'its 32 bytes plus the per-fragment overhead');
    const out = (await kernel).trim();
    assert.match(out, /^time-exceeded code 1 quotes id 0x4242 after (0\.9|1\.\d)$/);
    assert.equal(s.ipv4.reassembler.bytesHeld, 0);
    assert.equal(s.ipv4.reassembler.size, 0);
    assert.equal(stat(s, 'ipv4', 'reassemblyTimeouts'), 1);
  }).timeout(30_000);
});
