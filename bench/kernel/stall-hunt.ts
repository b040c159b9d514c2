/**
 * Latency stalls: request/response shapes between the stack and the Linux kernel, and between two
 * kernels over veth as the yardstick, per-exchange milliseconds (median and max). An exchange
 * whose time sits at a timer's value (40 ms delayed ACK, 200 ms RTO, a probe, 500 ms, 1 s) where
 * the kernel pair does not is a stall to explain.
 *
 *   namespace S: TAP rxb0, kernel 198.18.0.1 (rr-peer.py), the stack in this process at .2
 *   namespace C: veth, kernel client 198.18.0.1 }  the kernel pair
 *   namespace K: veth, kernel server 198.18.0.2 }
 *
 * For each shape: the kernel client against the stack's server, the stack's client against the
 * kernel's server, the kernel client against the kernel server. Root only.
 *
 *   npx tsx bench/kernel/stall-hunt.ts [--quick] [--only SUBSTRING] [--n 20]
 */
import { fileURLToPath } from 'node:url';
import { firstValueFrom } from 'rxjs';
import { createStack, type Stack } from '../../streams/stack/create-stack.js';
import { tapLink } from '../../streams/links/tap-link.js';
import type { TcpSocket } from '../../streams/stack/tcp-socket.js';
import { Netns, waitForLine } from './netns.js';
import { traceLink } from './trace-link.js';
import { median } from '../lib/stats.js';

const PEER = fileURLToPath(new URL('./rr-peer.py', import.meta.url));
const STACK_IP = '198.18.0.2';
const KERNEL_IP = '198.18.0.1';

export interface Shape {
  readonly req: number;
  readonly res: number;
  readonly how: 'one' | 'two' | 'small';
  readonly nodelay: boolean;
  readonly newconn?: boolean;
  readonly shut?: boolean;
  readonly idle?: number;
  readonly slow?: number;
  readonly rcvbuf?: number;
  readonly n?: number;
}

const args = process.argv.slice(2);
const flag = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i < 0 ? undefined : args[i + 1];
};
const N = Number(flag('--n') ?? 20);
const only = flag('--only');

function describe(s: Shape): string {
  const extra = [
    s.newconn ? 'newconn' : '', s.shut ? 'shut' : '', s.idle ? `idle${s.idle}s` : '', s.slow ? `slow${s.slow}s` : '',
    s.rcvbuf ? `rcvbuf${s.rcvbuf}` : '',
  ].filter(Boolean).join(',');
  return `req ${s.req} res ${s.res} ${s.how}${s.nodelay ? ' nodelay' : ''}${extra ? ` ${extra}` : ''}`;
}

function writePattern(sock: TcpSocket, n: number, how: Shape['how']): void {
  const body = Buffer.alloc(n, 0x78);
  if (how === 'two' && n > 200) {
    sock.write(body.subarray(0, 200));
    sock.write(body.subarray(200));
  } else if (how === 'small') {
    for (let i = 0; i < n; i += 100) sock.write(body.subarray(i, Math.min(n, i + 100)));
  } else {
    sock.write(body);
  }
}

/** Resolves when `n` more bytes have arrived on `sock` (false on end first). */
function reader(sock: TcpSocket): (n: number) => Promise<boolean> {
  let have = 0;
  let ended = false;
  let want = 0;
  let wake: ((ok: boolean) => void) | undefined;
  sock.on('data', (b: Buffer) => {
    have += b.length;
    if (wake !== undefined && have >= want) {
      have -= want;
      const w = wake;
      wake = undefined;
      w(true);
    }
  });
  sock.on('end', () => {
    ended = true;
    if (wake !== undefined) {
      const w = wake;
      wake = undefined;
      w(false);
    }
  });
  return (n) => {
    if (have >= n) {
      have -= n;
      return Promise.resolve(true);
    }
    if (ended) return Promise.resolve(false);
    want = n;
    return new Promise((resolve) => (wake = resolve));
  };
}

const sleep = (s: number): Promise<void> => new Promise((r) => setTimeout(r, s * 1000));

/** The stack's server for `shape` on `port`; returns a close function. */
function stackServer(stack: Stack, port: number, shape: Shape): () => void {
  const server = stack.net.createServer({ noDelay: shape.nodelay, allowHalfOpen: true }, (sock) => {
    sock.on('error', () => undefined);
    const read = reader(sock);
    void (async () => {
      while (await read(shape.req)) {
        writePattern(sock, shape.res, shape.how);
        if (shape.shut) {
          sock.end();
          return;
        }
      }
      sock.end();
    })();
  });
  server.listen(port);
  return () => server.close();
}

async function stackClient(stack: Stack, port: number, shape: Shape): Promise<number[]> {
  const times: number[] = [];
  let sock: TcpSocket | undefined;
  let read: ((n: number) => Promise<boolean>) | undefined;
  let ended: Promise<void> | undefined;
  for (let i = 0; i < (shape.n ?? N); i++) {
    if (shape.idle) await sleep(shape.idle);
    const t0 = performance.now();
    if (sock === undefined) {
      const conn = await firstValueFrom(stack.tcp.connect({
        address: KERNEL_IP, port, noDelay: shape.nodelay,
        ...(shape.rcvbuf ? { receiveBufferSize: shape.rcvbuf } : {}),
      }));
      sock = conn.toSocket();
      sock.on('error', () => undefined);
      ended = new Promise((r) => sock!.once('end', () => r()));
      read = reader(sock);
    }
    writePattern(sock, shape.req, shape.how);
    if (shape.slow) await sleep(shape.slow);
    if (!(await read!(shape.res))) throw new Error('short response');
    if (shape.shut) await ended;
    if (shape.newconn || shape.shut) {
      sock.end();
      sock = undefined;
    }
    times.push(performance.now() - t0);
  }
  sock?.end();
  return times;
}

async function pyClient(ns: Netns, host: string, port: number, shape: Shape): Promise<number[]> {
  const cfg = { role: 'client', host, port, ...shape, n: shape.n ?? N };
  const r = await ns.exec('python3', [PEER, JSON.stringify(cfg)], 120_000);
  const line = r.stdout.trim().split('\n').pop() ?? '';
  try {
    return (JSON.parse(line) as { ms: number[] }).ms;
  } catch {
    throw new Error(`client ${describe(shape)}: ${r.stdout} ${r.stderr}`);
  }
}

async function pyServer(ns: Netns, host: string, port: number, shape: Shape): Promise<() => void> {
  const child = ns.spawn('python3', [PEER, JSON.stringify({ role: 'server', host, port, ...shape })]);
  await waitForLine(child, 'ready', 5000, `server ${describe(shape)}`);
  return () => child.kill('SIGKILL');
}

const fmt = (xs: number[]): string => `${median(xs).toFixed(1)}/${Math.max(...xs).toFixed(1)}`;

export function shapes(quick: boolean): Shape[] {
  const out: Shape[] = [];
  const sizes = quick ? [1, 1449, 5000, 65536] : [1, 1447, 1449, 3000, 5000, 20000, 65536, 262144, 1048576];
  for (const nodelay of [false, true]) {
    for (const how of ['one', 'two', 'small'] as const) {
      for (const size of sizes) {
        if (how === 'small' && size > 65536) continue;
        out.push({ req: 100, res: size, how, nodelay });
        if (size !== 1) out.push({ req: size, res: 100, how, nodelay });
      }
    }
  }
  for (const size of [1, 1449, 5000, 65536]) {
    out.push({ req: 100, res: size, how: 'one', nodelay: false, newconn: true, n: 10 });
    out.push({ req: 100, res: size, how: 'two', nodelay: false, newconn: true, n: 10 });
    out.push({ req: size, res: 100, how: 'two', nodelay: false, newconn: true, n: 10 });
    out.push({ req: 100, res: size, how: 'two', nodelay: false, shut: true, n: 10 });
    out.push({ req: 100, res: size, how: 'two', nodelay: false, idle: 0.5, n: 6 });
    out.push({ req: size, res: 100, how: 'two', nodelay: false, idle: 0.5, n: 6 });
  }
  for (const size of [65536, 262144, 1048576]) {
    out.push({ req: 100, res: size, how: 'one', nodelay: false, slow: 0.1, n: 6 });
    out.push({ req: 100, res: size, how: 'one', nodelay: false, rcvbuf: 4096, n: 6 });
    out.push({ req: 100, res: size, how: 'one', nodelay: false, idle: 1.2, n: 4 });
  }
  return out;
}

async function main(): Promise<void> {
  const made: Netns[] = [];
  let stack: Stack | undefined;
  const cleanUp = async (): Promise<void> => {
    stack?.close();
    for (const ns of made) await ns.destroy();
  };
  try {
    const s = await Netns.create('s');
    made.push(s);
    await s.ip(['tuntap', 'add', 'dev', 'rxb0', 'mode', 'tap']);
    await s.addAddress(`${KERNEL_IP}/24`, 'rxb0');
    await s.ip(['link', 'set', 'rxb0', 'up']);
    const c = await Netns.create('c');
    made.push(c);
    const k = await Netns.create('k');
    made.push(k);
    await c.ip(['link', 'add', 'rxv0', 'type', 'veth', 'peer', 'name', 'rxv1', 'netns', k.name]);
    await c.addAddress(`${KERNEL_IP}/24`, 'rxv0');
    await k.addAddress(`${STACK_IP}/24`, 'rxv1');
    await c.ip(['link', 'set', 'rxv0', 'up']);
    await k.ip(['link', 'set', 'rxv1', 'up']);

    const tap = tapLink({ name: 'rxb0', netns: s.name, mac: '02:00:00:00:00:02' });
    stack = createStack({
      interfaces: [{ name: 'eth0', link: args.includes('--trace') ? traceLink(tap) : tap, ipv4: [`${STACK_IP}/24`] }],
    });
    let port = 20000;
    console.log('shape | kernel->stack server | stack client->kernel | kernel->kernel (median/max ms)');
    for (const shape of shapes(args.includes('--quick'))) {
      const name = describe(shape);
      if (only !== undefined && !name.includes(only)) continue;
      port++;
      const side = flag('--side');
      const closeStack = stackServer(stack, port, shape);
      const a = side === 'client' ? [0] : await pyClient(s, STACK_IP, port, shape);
      closeStack();
      const stopK = await pyServer(s, KERNEL_IP, port, shape);
      const b = side === 'server' ? [0] : await stackClient(stack, port, shape);
      stopK();
      if (args.includes('--trace')) console.log('---');
      const stopKK = await pyServer(k, STACK_IP, port, shape);
      const kk = await pyClient(c, STACK_IP, port, shape);
      stopKK();
      const worst = Math.max(median(a), median(b));
      const mark = worst > 30 && worst > 3 * median(kk) + 5 ? '  <-- STALL' : '';
      console.log(`${name} | ${fmt(a)} | ${fmt(b)} | ${fmt(kk)}${mark}`);
    }
  } finally {
    await cleanUp();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().then(() => process.exit(0), (e: unknown) => {
    console.error(e);
    process.exit(1);
  });
}
