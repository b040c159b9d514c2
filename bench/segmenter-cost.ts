/**
 * What software segmentation costs, per frame on the wire: the same bulk transfer between two
 * stacks on the memory wire (a link without TSO), with the sender's TCP building MSS-sized
 * segments (the default there) or large ones that IPv4 cuts in software (`core.gsoMaxBytes`
 * forced). CPU time of the process (user + system, process.cpuUsage), both stacks included;
 * virtual time, so no timer or wall-clock pacing is involved. Alternating runs, medians.
 *
 *   npx tsx bench/segmenter-cost.ts [MiB per run] [runs]
 */
import { VirtualTimeScheduler } from 'rxjs';
import { createMemoryWire } from '../streams/links/memory-wire.js';
import { createStack } from '../streams/stack/create-stack.js';
import { PacketBuffer } from '../src/packet-buffer.js';
import { emitTcp, TcpFlags, type TcpRepr } from '../src/wire/tcp.js';
import { segmentTcp } from '../src/wire/tcp-segmenter.js';

const mib = Number(process.argv[2] ?? 32);
const runs = Number(process.argv[3] ?? 5);

function transfer(large: boolean): { cpuNsPerFrame: number; frames: number } {
  const scheduler = new VirtualTimeScheduler();
  const [wa, wb] = createMemoryWire({ scheduler });
  const a = createStack({ interfaces: [{ name: 'eth0', link: wa, ipv4: ['198.18.0.1/24'] }] }, { scheduler });
  const b = createStack({ interfaces: [{ name: 'eth0', link: wb, ipv4: ['198.18.0.2/24'] }] }, { scheduler });
  const size = mib * 1024 * 1024;
  const chunk = new Uint8Array(256 * 1024).fill(7);
  let received = 0;
  b.tcp.listen({ port: 9 }).subscribe((c) => c.data$.subscribe((d) => (received += d.length)));
  a.tcp.connect({ address: '198.18.0.2', port: 9 }).subscribe((c) => {
    if (large) c.core.gsoMaxBytes = 0xffff;
    let sent = 0;
    const pump = (): void => {
      while (sent < size) {
        sent += chunk.length;
        if (!c.write(chunk)) return;
      }
      c.end();
    };
    c.drain$.subscribe(pump);
    pump();
  });
  const t0 = process.cpuUsage();
  scheduler.flush();
  const t = process.cpuUsage(t0);
  if (received !== size) throw new Error(`received ${received} of ${size}`);
  const frames = a.stats()['eth:eth0' as 'eth:x'].txFrames;
  a.close();
  b.close();
  return { cpuNsPerFrame: ((t.user + t.system) * 1000) / frames, frames };
}

/** segmentTcp alone: a 64 KiB segment cut into 45 MSS pieces (complete checksums). */
function segmenterAlone(): number {
  const payload = new Uint8Array(45 * 1448).fill(3);
  const seg: TcpRepr = { srcPort: 1, dstPort: 2, seq: 1, ack: 1, flags: TcpFlags.ACK, window: 1000, urgent: 0, mss: undefined, windowScale: undefined, sackPermitted: undefined, sackBlocks: undefined, timestamp: { tsVal: 1, tsEcr: 1 }, payload };
  const pb = PacketBuffer.withPayload(payload);
  emitTcp(seg, pb, 1, 2, { partialChecksum: true });
  let pieces = 0;
  const n = 2000;
  const t0 = process.cpuUsage();
  for (let i = 0; i < n; i++) pieces += segmentTcp(pb, 1448, 1, 2, true, () => undefined);
  const t = process.cpuUsage(t0);
  return ((t.user + t.system) * 1000) / pieces;
}

const median = (xs: number[]): number => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
transfer(false);
transfer(true);
const mss: number[] = [];
const big: number[] = [];
for (let i = 0; i < runs; i++) {
  mss.push(transfer(false).cpuNsPerFrame);
  big.push(transfer(true).cpuNsPerFrame);
}
console.log(`memory wire, ${mib} MiB: MSS-sized segments from TCP ${Math.round(median(mss))} CPU ns per frame sent (runs ${mss.map(Math.round).join(' ')})`);
console.log(`memory wire, ${mib} MiB: large segments cut by IPv4   ${Math.round(median(big))} CPU ns per frame sent (runs ${big.map(Math.round).join(' ')})`);
console.log(`segmentTcp alone (partial checksums): ${Math.round(segmenterAlone())} CPU ns per piece`);
