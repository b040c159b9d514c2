/**
 * The lossy TAP benchmark with a trace of our sender's retransmission timeouts (root only).
 *
 *   node --import tsx bench/kernel/lossy-tap-trace.ts [seconds] [runs] [loss] [seed]
 *
 * Runs the lossy-tap section (RTT 10 ms, Linux's CUBIC) and, for every RTO our sender takes,
 * prints the sender's state (SND.UNA / SND.MAX, the loss episode, cwnd, pipe, SACKed ranges,
 * the tail-loss-probe and RACK timers) and the last segments it sent and ACKs it got, then (300 ms
 * later) the frames from 300 ms before to 300 ms after the RTO at two places: at the stack (above
 * the impairment) and on the TAP device (below it). So one can tell which segment timed out, in
 * what state, whether the data or the ACKs were lost (and by the impairment or elsewhere), and
 * why neither RACK nor a probe caught it. The trace wraps the core's methods on its prototype
 * from outside (this script only): the core itself builds no trace.
 */
import { Observable } from 'rxjs';
import { performance } from 'node:perf_hooks';
import { TcpConnectionCore } from '../../src/tcp/connection.js';
import type { TcpRepr } from '../../src/wire/tcp.js';
import { lossyTapBench } from './lossy-tap.js';
import type { Link } from '../../streams/links/link.js';

/** Events remembered per connection. */
const HISTORY = 60;

interface Trace {
  readonly t0: number;
  readonly events: string[];
  iss: number;
}

const traces = new WeakMap<object, Trace>();
// The core's private members, read for the trace only.
type Inside = Record<string, unknown> & { sack?: Record<string, unknown> & { ranges: number; range(i: number): [number, number]; pipe(u: number, m: number, s: number): number } };

function traceOf(core: object, now: number): Trace {
  let t = traces.get(core);
  if (t === undefined) {
    t = { t0: now, events: [], iss: ((core as Inside).iss as number) >>> 0 };
    traces.set(core, t);
  }
  return t;
}

function note(core: object, now: number, line: string): void {
  const t = traceOf(core, now);
  t.events.push(`${(now - t.t0).toFixed(1).padStart(8)} ${line}`);
  if (t.events.length > HISTORY) t.events.shift();
}

const rel = (core: object, seq: number): number => (seq - ((core as Inside).iss as number)) >>> 0;

const proto = TcpConnectionCore.prototype as unknown as Record<string, (...a: unknown[]) => unknown>;

const handleSegment = proto.handleSegment;
proto.handleSegment = function (this: object, seg: unknown, now: unknown, ce: unknown) {
  const s = seg as TcpRepr;
  const n = now as number;
  const blocks = s.sackBlocks?.map(([a, b]) => `${rel(this, a)}-${rel(this, b)}`).join(',') ?? '';
  note(this, n, `in  ack ${rel(this, s.ack)}${blocks ? ` sack ${blocks}` : ''}${s.timestamp ? ` ecr ${s.timestamp.tsEcr}` : ''}`);
  return handleSegment.call(this, seg, now, ce);
};

const sendSegment = proto.sendSegment;
proto.sendSegment = function (this: Inside, seq: unknown, len: unknown, fin: unknown, now: unknown) {
  const rtx = ((seq as number) - (this.sndMax as number)) | 0;
  note(this, now as number, `out ${rel(this, seq as number)}+${len as number}${rtx < 0 ? ' RTX' : ''} ep ${String(this.lossEpisode)} cwnd ${Math.round((this.cc as { cwnd: number }).cwnd / (this.sndMss as number))}`);
  return sendSegment.call(this, seq, len, fin, now);
};

for (const name of ['onProbeTimeout', 'onRackTimer']) {
  const f = proto[name];
  proto[name] = function (this: object, now: unknown) {
    note(this, now as number, `timer ${name}`);
    return f.call(this, now);
  };
}

const onRto = proto.onRetransmitTimeout;
proto.onRetransmitTimeout = function (this: Inside, now: unknown) {
  const n = now as number;
  const t = traceOf(this, n);
  const una = this.sndUna as number;
  const max = this.sndMax as number;
  if (((max - una) | 0) > 0 && this.state !== 'SYN-SENT' && this.state !== 'SYN-RECEIVED') {
    const sb = this.sack;
    const ranges: string[] = [];
    if (sb !== undefined) for (let i = 0; i < sb.ranges; i++) ranges.push(sb.range(i).map((x) => rel(this, x)).join('-'));
    const mss = this.sndMss as number;
    const cc = this.cc as { cwnd: number; ssthresh: number };
    const rtt = this.rtt as { srtt: number; rto: number };
    const frto = this.frto as { step: number } | undefined;
    const rack = this.rack as { lostEdge: number; xmitTs: number; rtt: number; minRtt: number; reorderingSeen: boolean } | undefined;
    const head = [
        `=== RTO at ${(n - t.t0).toFixed(1)} ms: una ${rel(this, una)} max ${rel(this, max)} (${(max - una) / mss} seg) episode ${String(this.lossEpisode)} retries ${String(this.retries)}`,
        `    cwnd ${(cc.cwnd / mss).toFixed(1)} ssthresh ${(cc.ssthresh / mss).toFixed(1)} pipe ${sb ? (sb.pipe(una, max, mss) / mss).toFixed(1) : '-'} srtt ${rtt.srtt.toFixed(1)} rto ${rtt.rto} ` +
          `tlpOutstanding ${String(this.tlpOutstanding)} tlpAt ${String(this.tlpAt)} rackAt ${String(this.rackAt)} frto ${frto?.step ?? '-'} ` +
          `rack lostEdge ${rack ? rel(this, rack.lostEdge) : '-'} rtt ${rack?.rtt.toFixed(1)} minRtt ${rack?.minRtt.toFixed(1)} reo ${String(rack?.reorderingSeen)}`,
        `    sacked ${ranges.join(' ') || '(none)'}`,
        ...t.events.map((e) => `    ${e}`),
    ];
    // The wire from 300 ms before to 300 ms after the RTO, at both levels.
    const self = this;
    setTimeout(() => {
      const w = wire.filter((x) => x[0] > n - 300 && x[0] < n + 300);
      const line = (x: number[]): string =>
        `    ${(x[0] - t.t0).toFixed(1).padStart(8)} ${x[5] ? 'stack' : '  tap'} ${x[1] ? 'out seq ' + rel(self, x[2]) + '+' + x[4] : 'in  ack ' + rel(self, x[3]) + (x[4] ? ' +' + x[4] : '')}`;
      console.error([...head, '    wire (tap: below the impairment; stack: above it), RTO -300..+300 ms:', ...w.map(line)].join('\n'));
    }, 300);
    note(this, n, 'RTO');
  }
  return onRto.call(this, now);
};

/** Frames on the TAP device ('tap', below the impairment) and at the stack ('impaired', above it): [time, 0 in / 1 out, seq, ack, payload length, 0 tap / 1 stack]. */
const wire: number[][] = [];
function onWire(frame: Uint8Array, out: number, level: number): void {
  if (frame.length < 54 || frame[12] !== 0x08 || frame[13] !== 0x00 || frame[23] !== 6) return;
  const ihl = (frame[14] & 0xf) * 4;
  const total = (frame[16] << 8) | frame[17];
  const t = 14 + ihl;
  const word = (i: number): number => ((frame[i] << 24) | (frame[i + 1] << 16) | (frame[i + 2] << 8) | frame[i + 3]) >>> 0;
  wire.push([performance.timeOrigin + performance.now(), out, word(t + 4), word(t + 8), total - ihl - (frame[t + 12] >> 4) * 4, level]);
  if (wire.length > 1000) wire.shift();
}
function wrapLink(link: Link, where: 'tap' | 'impaired'): Link {
  const level = where === 'tap' ? 0 : 1;
  return {
    name: link.name,
    layer: link.layer,
    mtu: link.mtu,
    mac: link.mac,
    frames$: new Observable<Uint8Array>((sub) =>
      link.frames$.subscribe({ next: (f) => (onWire(f, 0, level), sub.next(f)), error: (e: unknown) => sub.error(e), complete: () => sub.complete() }),
    ),
    send: (f: Uint8Array) => (onWire(f, 1, level), link.send(f)),
    checksumVerified: link.checksumVerified?.bind(link),
    close: () => link.close(),
  };
}

const [seconds = '5', runs = '5', loss = '0.05', seed = '1'] = process.argv.slice(2);
lossyTapBench({ rttsMs: [10], losses: [Number(loss)], seconds: Number(seconds), runs: Number(runs), seed: Number(seed), linuxCongestionControls: ['cubic'], wrapLink, log: (l) => console.error(l) })
  .then((r) => {
    for (const c of r.cases) {
      for (const run of c.fromStack.runs) console.error(`ours seed ${run.seed}: ${run.goodputMbps.toFixed(2)} Mbit/s, ${run.sender.rtos} RTOs ${JSON.stringify(run.sender.detail)}`);
      for (const run of c.toStack.runs) console.error(`linux seed ${run.seed}: ${run.goodputMbps.toFixed(2)} Mbit/s, ${run.sender.rtos} RTOs`);
    }
  })
  .catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
