/**
 * Where the time goes between a request that arrives after a quiet spell and the first segment
 * of the stack's reply: a kernel client (a Python script, in the TAP device's namespace) sends
 * 100 bytes after `idle` seconds of quiet on one connection, the stack's server answers with
 * `res` bytes in one write. Per exchange, microseconds on CLOCK_MONOTONIC (both processes read
 * it) from the client's send to the request frame reaching the link's frames$, from there to
 * the server's 'data' event, to the end of its write() call and to the first reply segment
 * handed to the link; minor page faults from the frame to that segment; the reply's frames and
 * the round trips among them (a frame after an ACK starts one); the client's milliseconds.
 * Medians leave out each connection's first exchange. `--fresh`: a new Buffer per reply (as
 * stall-hunt.ts's server writes); `--all`: every exchange; IDLE_MARK=1 prints a line at each
 * request (to place V8's --trace-* output); `--pages` (quiet spells of 0.5 s or more): KiB of
 * memory the process referenced from 0.2 s into the quiet to the first reply segment
 * (clear_refs, then smaps_rollup's Referenced). Root only.
 *
 *   npx tsx bench/kernel/idle-probe.ts [--res 1,65536] [--idle 0.1,1.2] [--n 8] [--rounds 1] [--fresh] [--all] [--pages]
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { createStack } from '../../streams/stack/create-stack.js';
import { tapLink } from '../../streams/links/tap-link.js';
import type { Link } from '../../streams/links/link.js';
import { watchedLink } from '../lib/watched-link.js';
import { Netns } from './netns.js';
import { median } from '../lib/stats.js';

const STACK_IP = '198.18.0.2';
const KERNEL_IP = '198.18.0.1';

const args = process.argv.slice(2);
const flag = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i < 0 ? undefined : args[i + 1];
};
const sizes = (flag('--res') ?? '1,65536').split(',').map(Number);
const idles = (flag('--idle') ?? '0.1,1.2').split(',').map(Number);
const N = Number(flag('--n') ?? 8);
const mono = (): number => Number(process.hrtime.bigint()) / 1e6;
/** The kernel client: after each quiet spell, CLOCK_MONOTONIC ms at its send and at the reply's last byte. */
const CLIENT = `
import json, socket, sys, time
c = json.loads(sys.argv[1])
s = socket.create_connection((c['host'], c['port']))
out = []
for _ in range(c['n']):
    time.sleep(c['idle'])
    t0 = time.monotonic()
    s.sendall(b'x' * 100)
    got = 0
    while got < c['res']:
        got += len(s.recv(1 << 20))
    out.append([t0 * 1000, time.monotonic() * 1000])
s.close()
print(json.dumps(out))
`;
const ROUNDS = Number(flag('--rounds') ?? 1);

interface Marks {
  in: number;
  sent: number;
  done: number;
  data: number;
  written: number;
  out: number;
  minflt: number;
  /** Reply frames handed to the link, and how many of them followed an ACK (round trips after the first). */
  frames: number;
  rounds: number;
  /** With --pages: KiB of memory referenced from the quiet spell's start to the first reply segment. */
  referencedKiB: number;
}
const PAGES = args.includes('--pages');
/** Referenced KiB of this process (smaps_rollup), since the last clear_refs. */
function referencedKiB(): number {
  const m = /^Referenced:\s+(\d+) kB/m.exec(readFileSync('/proc/self/smaps_rollup', 'utf8'));
  return m === null ? NaN : Number(m[1]);
}
/** An ACK arrived since the last reply frame: the next reply frame starts a round trip. */
let ackSeen = false;
let current: Marks | undefined;
const done: Marks[] = [];

/** Marks the request's arrival (an inbound frame of 100 payload-ish bytes) and the first reply frame. */
function probe(link: Link): Link {
  const onIn = (frame: Uint8Array): void => {
    if (frame.length > 150 && frame.length < 250) {
      if (current !== undefined) done.push(current);
      if (process.env.IDLE_MARK) console.log('MARK request in');
      current = { in: mono(), sent: NaN, done: NaN, data: NaN, written: NaN, out: NaN, minflt: process.resourceUsage().minorPageFault, frames: 0, rounds: 1, referencedKiB: NaN };
      ackSeen = false;
    } else {
      ackSeen = true;
    }
  };
  const out = (frame: Uint8Array, payload = 0): void => {
    if (current !== undefined && frame.length + payload > 66) {
      current.frames++;
      if (ackSeen && current.frames > 1) current.rounds++;
      ackSeen = false;
    }
    if (current !== undefined && Number.isNaN(current.out) && frame.length + payload > 66) {
      current.out = mono();
      current.minflt = process.resourceUsage().minorPageFault - current.minflt;
      if (PAGES) {
        current.referencedKiB = referencedKiB();
        if (process.env.IDLE_SMAPS) writeFileSync(process.env.IDLE_SMAPS, readFileSync('/proc/self/smaps', 'utf8'));
      }
    }
  };
  return watchedLink(link, onIn, out);
}

async function main(): Promise<void> {
  const s = await Netns.create('s');
  let close = (): void => undefined;
  try {
    await s.ip(['tuntap', 'add', 'dev', 'rxb0', 'mode', 'tap']);
    await s.addAddress(`${KERNEL_IP}/24`, 'rxb0');
    await s.ip(['link', 'set', 'rxb0', 'up']);
    const tap = tapLink({ name: 'rxb0', netns: s.name, mac: '02:00:00:00:00:02' });
    const stack = createStack({ interfaces: [{ name: 'eth0', link: probe(tap), ipv4: [`${STACK_IP}/24`] }] });
    close = () => stack.close();
    let port = 21000;
    const reply = new Map<number, Buffer>();
    console.log('res idle | sent->in | in->data | in->written | in->first out | minflt | frames | round trips | client ms (medians, us; client ms)');
    for (let round = 0; round < ROUNDS; round++) {
      for (const res of sizes) {
        if (!reply.has(res)) reply.set(res, Buffer.alloc(res, 0x78));
        for (const idle of idles) {
          port++;
          const server = stack.net.createServer({ noDelay: false }, (sock) => {
            sock.on('error', () => undefined);
            let have = 0;
            sock.on('data', (b: Buffer) => {
              if (current !== undefined && Number.isNaN(current.data)) current.data = mono();
              have += b.length;
              while (have >= 100) {
                have -= 100;
                sock.write(args.includes('--fresh') ? Buffer.alloc(res, 0x78) : reply.get(res)!);
                if (current !== undefined && Number.isNaN(current.written)) current.written = mono();
                // Clear the pages' referenced bits once this exchange is over, in the quiet spell.
                if (PAGES && idle >= 0.5) setTimeout(() => writeFileSync('/proc/self/clear_refs', '1'), 200);
              }
            });
          });
          server.listen(port);
          current = undefined;
          done.length = 0;
          const cfg = { host: STACK_IP, port, res, idle, n: N };
          const r = await s.exec('python3', ['-c', CLIENT, JSON.stringify(cfg)], 120_000);
          if (current !== undefined) done.push(current);
          server.close();
          const client = JSON.parse(r.stdout.trim().split('\n').pop()!) as [number, number][];
          done.forEach((m, i) => {
            m.sent = client[i][0];
            m.done = client[i][1];
          });
          const ms = client.map(([a, b]) => b - a);
          const rows = done.slice(1); // the first exchange's code is the least warm
          const us = (f: (m: Marks) => number): string => (median(rows.map(f)) * 1000).toFixed(0);
          console.log(`${res} ${idle} | ${us((m) => m.in - m.sent)} | ${us((m) => m.data - m.in)} | ${us((m) => m.written - m.in)} | ${us((m) => m.out - m.in)} | ${median(rows.map((m) => m.minflt))} | ${median(rows.map((m) => m.frames))} | ${median(rows.map((m) => m.rounds))} | ${median(ms.slice(1)).toFixed(2)}${PAGES ? ` | referenced ${median(rows.map((m) => m.referencedKiB))} KiB` : ''}`);
          if (args.includes('--all')) for (const [i, m] of rows.entries()) console.log(`   ${ms[i + 1].toFixed(2)} ms ${((m.in - m.sent) * 1000).toFixed(0)} ${((m.data - m.in) * 1000).toFixed(0)} ${((m.written - m.in) * 1000).toFixed(0)} ${((m.out - m.in) * 1000).toFixed(0)} flt ${m.minflt} frames ${m.frames} rounds ${m.rounds}`);
        }
      }
    }
  } finally {
    close();
    await s.destroy();
  }
}

main().then(() => process.exit(0), (e: unknown) => {
  console.error(e);
  process.exit(1);
});
