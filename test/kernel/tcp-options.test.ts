/**
 * TCP options against the Linux kernel: timestamps (RFC 7323) and SACK (RFC 2018) negotiated
 * both ways, checked on the wire, and a SACK block from us that Linux acts on. Our stack is on a
 * TAP device (198.18.0.2) in a namespace of the test's own, the kernel at 198.18.0.1.
 *
 * The test watches the frames both ways with a wrapper around the link (no offload, so one
 * frame is one TCP segment) and can drop a chosen frame from the kernel.
 */
import assert from 'node:assert/strict';
import { firstValueFrom, lastValueFrom, Observable, toArray } from 'rxjs';
import { createStack, type Stack } from '../../streams/stack/create-stack.js';
import type { Link } from '../../streams/links/link.js';
import { echoService } from '../../streams/services/echo.js';
import type { TcpConnection } from '../../streams/stack/tcp-connection.js';
import { parseTcp, TcpFlags, type TcpRepr } from '../../src/wire/tcp.js';
import { describeKernelPeer, useKernelPeer, type KernelPeer } from '../helpers/netns.js';
import { useCloseAfterEach } from '../helpers/close-after-each.js';
import { startPython, pyListen, PY_READ_TO_EOF } from '../helpers/python.js';

const STACK_IP = '198.18.0.2';
const HOST_IP = '198.18.0.1';
const { SYN, ACK } = TcpFlags;
const ETH_IPV4 = 0x0800;
const PROTO_TCP = 6;

interface Watched {
  readonly link: Link;
  /** Segments we sent to the kernel. */
  readonly out: TcpRepr[];
  /** Segments the kernel sent us (dropped ones included). */
  readonly in: TcpRepr[];
}

/** The TCP segment in an Ethernet/IPv4 frame, or undefined. Payload replaced by its length. */
function tcpOf(frame: Uint8Array): TcpRepr | undefined {
  if (frame.length < 34 || ((frame[12] << 8) | frame[13]) !== ETH_IPV4 || frame[23] !== PROTO_TCP) return undefined;
  const ihl = (frame[14] & 0x0f) * 4;
  const total = (frame[16] << 8) | frame[17];
  const r = parseTcp(frame.subarray(14 + ihl, 14 + total), 0, 0, { verifyChecksum: false });
  return r.ok ? { ...r.value, payload: new Uint8Array(r.value.payload.length) } : undefined;
}

/** Records the TCP segments both ways; `dropIn` may drop a frame from the kernel, `dropOut` one of ours. */
function watch(link: Link, dropIn: (seg: TcpRepr) => boolean = () => false, dropOut: (seg: TcpRepr) => boolean = () => false): Watched {
  const out: TcpRepr[] = [];
  const inbound: TcpRepr[] = [];
  const wrapped: Link = {
    name: link.name,
    mtu: link.mtu,
    ...(link.mac !== undefined ? { mac: link.mac } : {}),
    frames$: new Observable<Uint8Array>((sub) =>
      link.frames$.subscribe({
        next(frame) {
          const seg = tcpOf(frame);
          if (seg !== undefined) {
            inbound.push(seg);
            if (dropIn(seg)) return;
          }
          sub.next(frame);
        },
        error: (e: unknown) => sub.error(e),
        complete: () => sub.complete(),
      }),
    ),
    send(frame: Uint8Array) {
      const seg = tcpOf(frame);
      if (seg !== undefined) {
        out.push(seg);
        if (dropOut(seg)) return;
      }
      link.send(frame);
    },
    close: () => link.close(),
  };
  return { link: wrapped, out, in: inbound };
}

function stackOn(peer: KernelPeer, dropIn?: (seg: TcpRepr) => boolean, dropOut?: (seg: TcpRepr) => boolean): { stack: Stack; w: Watched } {
  // Per-segment watching and dropping: no receive coalescing (it would hand up whole runs).
  const w = watch(peer.attach({ mac: '02:00:00:00:00:02', offload: false, coalesceReceived: false }), dropIn, dropOut);
  return { stack: createStack({ interfaces: [{ name: 'eth0', link: w.link, ipv4: [`${STACK_IP}/24`] }] }), w };
}

/** The kernel's TcpExt counters in the namespace (/proc/net/netstat). */
async function tcpExt(peer: KernelPeer): Promise<Record<string, number>> {
  const text = await peer.run('cat', ['/proc/net/netstat']);
  const lines = text.split('\n').filter((l) => l.startsWith('TcpExt:'));
  const names = lines[0].split(/\s+/).slice(1);
  const values = lines[1].split(/\s+/).slice(1).map(Number);
  return Object.fromEntries(names.map((n, i) => [n, values[i]]));
}

/** A python3 server in the namespace, running once it printed `ready` (see startPython). */
async function startServer(peer: KernelPeer, source: string, timeoutMs: number): Promise<{ done: Promise<string> }> {
  const { done } = await startPython(peer, source, timeoutMs);
  return { done }; // wrapped: an async function returning `done` itself would wait for it
}

const isSyn = (s: TcpRepr) => (s.flags & (SYN | ACK)) === SYN;
const isSynAck = (s: TcpRepr) => (s.flags & (SYN | ACK)) === (SYN | ACK);

describeKernelPeer('kernel peer: TCP options (timestamps, SACK)', () => {
  const peer = useKernelPeer();
  const closeAfterTest = useCloseAfterEach<Stack>();

  it('Linux connects: its SYN offers TS, SACK and window scale; our SYN-ACK answers all three and echoes its TSval', async () => {
    const s = stackOn(peer());
    const stack = closeAfterTest(s.stack);
    echoService(stack, 7);
    const out = await peer().python(`import socket
s = socket.create_connection(('${STACK_IP}', 7), timeout=5)
s.sendall(b'hello options')
got = s.recv(100)
s.close()
print(got.decode())`, [], { timeoutMs: 10_000 });
    assert.equal(out.trim(), 'hello options');
    const syn = s.w.in.find(isSyn);
    const synAck = s.w.out.find(isSynAck);
    assert.ok(syn && synAck, 'SYN and SYN-ACK seen');
    assert.ok(syn.timestamp && syn.sackPermitted && syn.windowScale !== undefined, 'Linux offers all three');
    assert.equal(synAck.sackPermitted, true);
    assert.ok(synAck.windowScale !== undefined);
    assert.equal(synAck.timestamp?.tsEcr, syn.timestamp.tsVal);
    // After the handshake both sides keep sending TSopt; Linux echoes our clock.
    const ours = s.w.out.filter((x) => !isSynAck(x) && (x.flags & TcpFlags.RST) === 0);
    assert.ok(ours.length > 0 && ours.every((x) => x.timestamp !== undefined), 'every later segment of ours carries TSopt');
    const theirs = s.w.in.filter((x) => !isSyn(x));
    assert.ok(theirs.some((x) => x.timestamp !== undefined && x.timestamp.tsEcr !== 0), 'Linux echoes our TSval');
  }).timeout(20_000);

  it('we connect: our SYN offers them, Linux answers all three, the connection uses them', async () => {
    const s = stackOn(peer());
    const stack = closeAfterTest(s.stack);
    const server = await startServer(peer(), `import socket
${pyListen(HOST_IP, 5002)}
ls.settimeout(10)
print('ready', flush=True)
c, _ = ls.accept()
c.sendall(c.recv(100))
c.close()`, 15_000);
    const conn: TcpConnection = await firstValueFrom(stack.tcp.connect({ address: HOST_IP, port: 5002 }));
    assert.equal(conn.core.timestampsNegotiated, true);
    assert.equal(conn.core.sackNegotiated, true);
    const back = lastValueFrom(conn.data$.pipe(toArray()));
    conn.write(new TextEncoder().encode('ping'));
    conn.end();
    assert.equal(Buffer.concat((await back).map((c) => Buffer.from(c))).toString(), 'ping');
    await server.done;
    const syn = s.w.out.filter(isSyn).at(-1);
    const synAck = s.w.in.filter(isSynAck).at(-1);
    assert.ok(syn && synAck);
    assert.ok(syn.timestamp && syn.sackPermitted && syn.windowScale !== undefined, 'we offer all three');
    assert.ok(synAck.sackPermitted && synAck.windowScale !== undefined);
    assert.equal(synAck.timestamp?.tsEcr, syn.timestamp.tsVal, 'Linux echoes our SYN TSval');
  }).timeout(20_000);

  it('a segment lost on the way to us: our ACKs carry a SACK block for what follows, and Linux recovers with SACK', async () => {
    const size = 400_000;
    let dataSeen = 0;
    let dropped: TcpRepr | undefined;
    const s = stackOn(peer(), (seg) => {
      if (seg.payload.length === 0 || dropped !== undefined) return false;
      if (++dataSeen === 20) {
        dropped = seg;
        return true;
      }
      return false;
    });
    const stack = closeAfterTest(s.stack);
    const before = await tcpExt(peer());
    const server = await startServer(peer(), `import socket
${pyListen(HOST_IP, 5003)}
ls.settimeout(10)
print('ready', flush=True)
c, _ = ls.accept()
c.sendall(bytes(i % 251 for i in range(${size})))
c.close()`, 30_000);
    const conn: TcpConnection = await firstValueFrom(stack.tcp.connect({ address: HOST_IP, port: 5003 }));
    const got = Buffer.concat((await lastValueFrom(conn.data$.pipe(toArray()))).map((c) => Buffer.from(c)));
    await server.done;
    assert.equal(got.length, size);
    assert.ok(got.every((b, i) => b === i % 251), 'byte-exact');
    assert.ok(dropped !== undefined, 'a data segment was dropped');
    const lostEnd = (dropped.seq + dropped.payload.length) >>> 0;
    const sacking = s.w.out.find((x) => x.sackBlocks !== undefined && x.ack === dropped!.seq);
    assert.ok(sacking, 'an ACK for the hole carried SACK blocks');
    assert.equal(sacking.sackBlocks?.[0][0], lostEnd, 'the first block starts right after the lost segment');
    const resent = s.w.in.filter((x) => x.seq === dropped!.seq && x.payload.length > 0);
    assert.ok(resent.length >= 2, 'Linux resent the lost segment');
    const after = await tcpExt(peer());
    assert.ok(after.TCPSackRecovery - before.TCPSackRecovery >= 1, `Linux recovered with SACK (TCPSackRecovery ${before.TCPSackRecovery} -> ${after.TCPSackRecovery})`);
    assert.equal(after.TCPTimeouts - before.TCPTimeouts, 0, 'without a retransmission timeout');
    assert.ok(stack.tcpLayer.connectionCounters().sackAcksSent > 0);
  }).timeout(40_000);

  it('segments of ours lost on the way to Linux: its SACK blocks drive our recovery, without a retransmission timeout', async () => {
    const size = 600_000;
    let dataSeen = 0;
    const dropped: TcpRepr[] = [];
    // The 20th and 23rd data segments we send, first transmissions only: two holes in one window.
    const s = stackOn(peer(), undefined, (seg) => {
      if (seg.payload.length === 0 || dropped.some((d) => d.seq === seg.seq)) return false;
      dataSeen++;
      if (dataSeen !== 20 && dataSeen !== 23) return false;
      dropped.push(seg);
      return true;
    });
    const stack = closeAfterTest(s.stack);
    const server = await startServer(peer(), `import socket
${PY_READ_TO_EOF}${pyListen(HOST_IP, 5004)}
ls.settimeout(10)
print('ready', flush=True)
c, _ = ls.accept()
c.settimeout(20)
got = read_to_eof(c)
c.close()
print('received', 'ok' if bytes(got) == bytes(i % 251 for i in range(${size})) else 'mismatch', len(got))`, 40_000);
    const conn: TcpConnection = await firstValueFrom(stack.tcp.connect({ address: HOST_IP, port: 5004 }));
    const ended = lastValueFrom(conn.data$.pipe(toArray()));
    conn.write(Uint8Array.from({ length: size }, (_, i) => i % 251));
    conn.end();
    await ended;
    const out = await server.done;
    assert.match(out, new RegExp(`^received ok ${size}$`, 'm'), out);
    assert.equal(dropped.length, 2, 'two of our data segments were dropped');
    const sacks = s.w.in.filter((x) => x.sackBlocks !== undefined && x.ack === dropped[0].seq);
    assert.ok(sacks.length > 0, 'Linux ACKed the first hole with SACK blocks');
    for (const d of dropped) assert.ok(s.w.out.filter((x) => x.seq === d.seq && x.payload.length > 0).length >= 2, `segment ${d.seq} resent`);
    assert.ok(conn.counters.sackRecoveries >= 1, 'SACK recovery');
    assert.equal(conn.counters.timeouts, 0, 'no retransmission timeout');
  }).timeout(60_000);
});
