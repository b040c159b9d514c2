/**
 * The TCP core alone (no wire codec, no IP, no RxJS), counted rather than timed, as
 * bench/memory-cost.ts does for the whole stack: what a connection and a segment cost inside
 * TcpConnectionCore. Two cores hand each other their TcpRepr records through a queue, in
 * virtual time (1 ms per delivery round), so the run is the same every time.
 *
 *   node --import tsx bench/core-cost.ts crr 2000    # connect, 1 byte each way, close, TIME-WAIT
 *   node --import tsx bench/core-cost.ts bulk 64     # 64 MiB one way on one connection
 *   node --import tsx bench/core-cost.ts rr 100000   # 1-byte request, echoed reply, one connection
 *
 * With COST_DIST=<compiled tree> the core is the compiled code. Prints one JSON line.
 * `WHAT=core bench/cost.sh` counts its instructions and allocations.
 */
import type { TcpRepr } from '../src/wire/tcp.js';
import type { TcpConnectionCore as Core, TcpHost } from '../src/tcp/connection.js';

const root = process.env.COST_DIST !== undefined ? `${process.env.COST_DIST}/` : '../';
const { TcpConnectionCore } = (await import(`${root}src/tcp/connection.js`)) as typeof import('../src/tcp/connection.js');
const { resolveTcpConfig } = (await import(`${root}src/tcp/config.js`)) as typeof import('../src/tcp/config.js');

const A = 0xc6120001; // 198.18.0.1
const B = 0xc6120002;
const tcpOptions = JSON.parse(process.env.COST_TCP ?? '{}') as Record<string, unknown>;
const config = resolveTcpConfig({ ...tcpOptions, msl: 10 });

interface Queued {
  to: Core;
  seg: TcpRepr;
}

let queue: Queued[] = [];
let now = 1000;
let segments = 0;
let readBytes = 0;
const peers = new Map<Core, Core>();

const host: TcpHost = {
  send(conn, seg) {
    segments++;
    // The payload is a view into the send buffer, valid until this returns: copy it, as an
    // encoder would.
    const to = peers.get(conn);
    if (to !== undefined) queue.push({ to, seg: { ...seg, payload: seg.payload.slice() } });
  },
  onReadable(conn) {
    for (let c = conn.read(); c !== undefined; c = conn.read()) {
      readBytes += c.length;
      // rr: the server echoes what it read from within the event, as an echo service does.
      if (conn === rrServer) conn.write(c, now);
    }
  },
};

/** Delivers until nothing is queued, 1 ms per round, firing due timers. */
function settle(conns: readonly Core[]): void {
  for (let rounds = 0; rounds < 100_000; rounds++) {
    const q = queue;
    queue = [];
    for (const { to, seg } of q) to.handleSegment(seg, now);
    now += 1;
    for (const c of conns) {
      const d = c.nextDeadline();
      if (d !== undefined && d <= now) c.handleTimer(now);
    }
    if (queue.length === 0) return;
  }
  throw new Error('did not settle');
}

/** Fires timers until both connections are CLOSED (TIME-WAIT is 2 * msl = 20 ms). */
function finish(conns: readonly Core[]): void {
  for (let i = 0; i < 1000 && conns.some((c) => c.state !== 'CLOSED'); i++) {
    let next = Infinity;
    for (const c of conns) next = Math.min(next, c.nextDeadline() ?? Infinity);
    if (next === Infinity) break;
    now = Math.max(now, next);
    for (const c of conns) if ((c.nextDeadline() ?? Infinity) <= now) c.handleTimer(now);
    settle(conns);
  }
}

let port = 10000;
function pair(): [Core, Core] {
  port = port === 60000 ? 10000 : port + 1;
  const a = new TcpConnectionCore({ localAddr: A, localPort: port, remoteAddr: B, remotePort: 7, iss: (port * 2654435761) >>> 0, host, config });
  const b = new TcpConnectionCore({ localAddr: B, localPort: 7, remoteAddr: A, remotePort: port, iss: (port * 40503) >>> 0, host, config });
  peers.set(a, b);
  peers.set(b, a);
  return [a, b];
}

const one = new Uint8Array([0x79]);
let rrServer: Core | undefined;
let rrClient: Core | undefined;

/** TCP_RR: one byte to the server, its echo back, the next request when the reply is read. */
function rr(n: number): void {
  if (rrClient === undefined) {
    const [a, b] = pair();
    b.listen();
    a.connect(now);
    settle([a, b]);
    rrClient = a;
    rrServer = b;
  }
  const conns = [rrClient, rrServer as Core];
  for (let i = 0; i < n; i++) {
    rrClient.write(one, now);
    settle(conns);
  }
}

function crrOnce(): void {
  const [a, b] = pair();
  b.listen();
  a.connect(now);
  settle([a, b]);
  a.write(one, now);
  settle([a, b]);
  b.write(one, now);
  settle([a, b]);
  a.close(now);
  settle([a, b]);
  b.close(now);
  settle([a, b]);
  finish([a, b]);
  peers.delete(a);
  peers.delete(b);
}

function bulk(bytes: number): void {
  const [a, b] = pair();
  b.listen();
  a.connect(now);
  settle([a, b]);
  const chunk = new Uint8Array(64 * 1024).fill(0x42);
  let written = 0;
  const target = readBytes + bytes;
  while (readBytes < target) {
    while (written < bytes) {
      const n = a.write(written + chunk.length <= bytes ? chunk : chunk.subarray(0, bytes - written), now);
      if (n === 0) break;
      written += n;
    }
    settle([a, b]);
  }
  a.abort(now);
  peers.delete(a);
  peers.delete(b);
}

const [mode = 'crr', sizeArg = '1000'] = process.argv.slice(2);
const size = Number(sizeArg);
if (mode === 'crr') for (let i = 0; i < 500; i++) crrOnce();
else if (mode === 'rr') rr(20_000);
else bulk(16 * 1024 * 1024);
// Marks for bench/cost.sh's allocation sum, with a full GC at each when --expose-gc is on.
const gc = (globalThis as { gc?: () => void }).gc;
gc?.();
console.error('MEASURE-START');
const seg0 = segments;
const t0 = process.hrtime.bigint();
if (mode === 'crr') for (let i = 0; i < size; i++) crrOnce();
else if (mode === 'rr') rr(size);
else bulk(size * 1024 * 1024);
const ns = Number(process.hrtime.bigint() - t0);
gc?.();
console.error('MEASURE-END');
console.log(JSON.stringify({ mode, size, ms: ns / 1e6, perUnitUs: mode === 'crr' || mode === 'rr' ? ns / size / 1000 : undefined, segments: segments - seg0 }));
