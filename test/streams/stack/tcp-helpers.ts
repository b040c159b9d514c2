/**
 * Test helpers for the TCP wiring: two stacks on the memory wire with TCP options and optional
 * impairment per direction, payload patterns, and a tap that records the TCP segments crossing
 * an IPv4 hook with the (virtual) time they crossed it.
 *
 *   a 198.18.0.1  <== memory wire (optionally impaired each way) ==>  b 198.18.0.2
 */
import { filter, firstValueFrom, lastValueFrom, tap, toArray, type MonoTypeOperatorFunction, type SchedulerLike } from 'rxjs';
import type { TcpLimitsConfig } from '../../../src/tcp/limits.js';
import { createMemoryWire, type MemoryWireOptions } from '../../../streams/links/memory-wire.js';
import { impairLink, type ImpairOptions } from '../../../streams/operators/impair.js';
import { createStack, type Stack, type StackHooks } from '../../../streams/stack/create-stack.js';
import { concatBytes } from '../../helpers/bytes.js';
import type { Ipv4Datagram } from '../../../streams/stack/ipv4-layer.js';
import { isIpv6Outbound } from '../../../streams/stack/ipv6-layer.js';
import type { NetworkOutbound } from '../../../streams/stack/create-stack.js';
import type { TcpConfig } from '../../../src/tcp/config.js';
import { parseTcp, TcpFlags } from '../../../src/wire/tcp.js';
import { parseIpv4 } from '../../../src/wire/ipv4.js';

export const A_IP = '198.18.0.1';
export const B_IP = '198.18.0.2';

export interface TcpPairOptions {
  readonly scheduler?: SchedulerLike;
  readonly wire?: MemoryWireOptions;
  /** TCP options of each stack. */
  readonly tcpA?: Partial<TcpConfig & TcpLimitsConfig>;
  readonly tcpB?: Partial<TcpConfig & TcpLimitsConfig>;
  readonly hooksA?: StackHooks;
  readonly hooksB?: StackHooks;
  /** Impairment of what a sends (towards b) and of what b sends (towards a). */
  readonly impairAtoB?: ImpairOptions;
  readonly impairBtoA?: ImpairOptions;
}

export interface TcpPair {
  readonly a: Stack;
  readonly b: Stack;
  close(): void;
}

export function tcpPair(opts: TcpPairOptions = {}): TcpPair {
  const [wa, wb] = createMemoryWire({ scheduler: opts.scheduler, ...opts.wire });
  const la = opts.impairAtoB === undefined ? wa : impairLink(wa, { outbound: opts.impairAtoB, scheduler: opts.scheduler });
  const lb = opts.impairBtoA === undefined ? wb : impairLink(wb, { outbound: opts.impairBtoA, scheduler: opts.scheduler });
  const a = createStack(
    { interfaces: [{ name: 'eth0', link: la, ipv4: [`${A_IP}/24`] }], tcp: opts.tcpA },
    { scheduler: opts.scheduler, hooks: opts.hooksA },
  );
  const b = createStack(
    { interfaces: [{ name: 'eth0', link: lb, ipv4: [`${B_IP}/24`] }], tcp: opts.tcpB },
    { scheduler: opts.scheduler, hooks: opts.hooksB },
  );
  return { a, b, close: () => { a.close(); b.close(); } };
}

/** `n` pseudo-random bytes (an LCG), different for each seed. */
export { lcgBytes as pattern } from '../../helpers/bytes.js';

/** The chunks in one Uint8Array. */
export { concatBytes as concat } from '../../helpers/bytes.js';

/** Sends `bytes` to an echo server at `address` (port 7), ends, and collects the echo. */
export async function echoed(stack: Stack, address: string, bytes: Uint8Array): Promise<Uint8Array> {
  const conn = await firstValueFrom(stack.tcp.connect({ address, port: 7 }));
  const chunks = lastValueFrom(conn.data$.pipe(toArray()));
  conn.write(bytes);
  conn.end();
  return concatBytes(await chunks);
}

export const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
export const dec = (b: Uint8Array): string => new TextDecoder().decode(b);

/** A TCP segment seen crossing a hook. */
export interface SeenSegment {
  /** Scheduler time. */
  readonly at: number;
  readonly src: number;
  readonly dst: number;
  readonly srcPort: number;
  readonly dstPort: number;
  readonly flags: number;
  readonly seq: number;
  readonly ack: number;
  readonly window: number;
  readonly len: number;
}

/** Flags as text, e.g. 'SYN|ACK'. */
export function flagNames(flags: number): string {
  const names: string[] = [];
  for (const [name, bit] of Object.entries(TcpFlags)) if ((flags & bit) !== 0) names.push(name);
  return names.join('|');
}

function seenOf(at: number, src: number, dst: number, payload: Uint8Array): SeenSegment | undefined {
  const p = parseTcp(payload, src, dst, { verifyChecksum: false });
  if (!p.ok) return undefined;
  const s = p.value;
  return { at, src, dst, srcPort: s.srcPort, dstPort: s.dstPort, flags: s.flags, seq: s.seq, ack: s.ack, window: s.window, len: s.payload.length };
}

/** A `transport.up` hook that records every TCP segment and, when `drop` says so, drops it. */
export function tcpInputTap(scheduler: SchedulerLike, into: SeenSegment[], drop: (s: SeenSegment) => boolean = () => false): MonoTypeOperatorFunction<Ipv4Datagram> {
  return filter((d: Ipv4Datagram) => {
    if (d.protocol !== 6) return true;
    const s = seenOf(scheduler.now(), d.src, d.dst, d.payload);
    if (s === undefined) return true;
    into.push(s);
    return !drop(s);
  });
}

/** A `network.down` hook that records every TCP segment sent (unfragmented, as TCP sends them). */
export function tcpOutputTap(scheduler: SchedulerLike, into: SeenSegment[]): MonoTypeOperatorFunction<NetworkOutbound> {
  return tap((o: NetworkOutbound) => {
    if (isIpv6Outbound(o) || o.protocol !== 6) return;
    const ip = parseIpv4(o.pb.bytes());
    if (!ip.ok) return;
    const s = seenOf(scheduler.now(), o.src, o.dst, ip.value.payload);
    if (s !== undefined) into.push(s);
  });
}

/** The `code` of an error, or its message when it has none. */
export function codeOf(err: unknown): string {
  if (err !== null && typeof err === 'object' && 'code' in err && typeof err.code === 'string') return err.code;
  return String(err);
}
