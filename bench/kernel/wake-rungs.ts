/**
 * The rungs of the wake-up ladder (wake-ladder.ts times them, wake-trace.ts traces one): the
 * C floor with one trait of a Node process added (tap-ladder.c's options), the Node floor
 * (tap-floor-node.ts) with Node's flags or mlockall (mlock-preload.c), and the stack (`serve`),
 * each started in a namespace of its own laid out as floor-bench.ts's (TAP rxb0, kernel side
 * 198.18.0.1/24, responder 198.18.0.2), pinned to CPU 0.
 */
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { KernelTools } from './build.js';
import { Netns, waitForLine } from './netns.js';
import { pinned, stackNamespace, STACK_IP } from './tap-bench.js';

export const CPU = 0;
const TAP = 'rxb0';
const FLOOR_MAC = '02:00:00:00:00:02';
const FLOOR_ARGS = [TAP, STACK_IP, FLOOR_MAC, '7'];
const here = fileURLToPath(new URL('.', import.meta.url));
const nodeFloor = join(here, 'tap-floor-node.ts');

export interface Rung {
  readonly key: string;
  readonly name: string;
  /** Not measured unless named in --rungs. */
  readonly optional?: boolean;
  /** program, args, extra environment; undefined: the stack (`serve`). */
  readonly command?: (tools: KernelTools) => [string, string[], Record<string, string>];
  /** Node flags for the stack rung. */
  readonly nodeArgs?: readonly string[];
  /** `serve` options for the stack rung. */
  readonly serveArgs?: readonly string[];
}

const ladder = (...opts: string[]) => (t: KernelTools): [string, string[], Record<string, string>] => [t.ladder, [...FLOOR_ARGS, ...opts], {}];
const node = (flags: string[], env: (t: KernelTools) => Record<string, string> = () => ({})) => (t: KernelTools): [string, string[], Record<string, string>] => [
  process.execPath, [...flags, '--import', 'tsx', nodeFloor, ...FLOOR_ARGS], env(t),
];

export const RUNGS: readonly Rung[] = [
  { key: 'c', name: 'C, epoll', command: ladder('--loop', 'epoll') },
  { key: 'c-epoll2', name: 'C, epoll_wait(0) then epoll_wait(-1)', command: ladder('--loop', 'epoll2') },
  { key: 'c-uv', name: 'C, libuv', command: ladder('--loop', 'uv') },
  { key: 'c-uv-idle', name: 'C, libuv, UV_METRICS_IDLE_TIME', command: ladder('--loop', 'uv-idle') },
  { key: 'c-threads', name: 'C, 6 idle threads', command: ladder('--threads', '6') },
  { key: 'c-tick', name: 'C, a thread waking every 1 ms', command: ladder('--threads', '1', '--tick', '1'), optional: true },
  { key: 'c-touch1', name: 'C, touches 1 MiB per wake-up', command: ladder('--touch', '1') },
  { key: 'c-touch8', name: 'C, touches 8 MiB', command: ladder('--touch', '8') },
  { key: 'c-touch32', name: 'C, touches 32 MiB', command: ladder('--touch', '32') },
  { key: 'c-touch128', name: 'C, touches 128 MiB', command: ladder('--touch', '128') },
  { key: 'c-touch32-huge', name: 'C, touches 32 MiB, MADV_HUGEPAGE', command: ladder('--touch', '32', '--huge') },
  { key: 'c-scatter64', name: 'C, touches 64 pages 2 MiB apart (64 page tables)', command: ladder('--touch', '128', '--stride', '2097152') },
  { key: 'c-scatter512', name: 'C, touches 512 pages 2 MiB apart', command: ladder('--touch', '1024', '--stride', '2097152') },
  { key: 'c-touch8-lines', name: 'C, touches 8 MiB, every cache line', command: ladder('--touch', '8', '--stride', '64'), optional: true },
  { key: 'c-touch32-mlock', name: 'C, touches 32 MiB, mlockall', command: ladder('--touch', '32', '--mlock'), optional: true },
  { key: 'node', name: 'Node floor', command: node([]) },
  { key: 'node-largepages', name: 'Node floor, --use-largepages=silent', command: node(['--use-largepages=silent']) },
  { key: 'node-semi1', name: 'Node floor, --max-semi-space-size=1', command: node(['--max-semi-space-size=1']) },
  { key: 'node-noreducer', name: 'Node floor, --no-memory-reducer', command: node(['--no-memory-reducer']) },
  { key: 'node-noopt', name: 'Node floor, --no-opt', command: node(['--no-opt']), optional: true },
  { key: 'node-jitless', name: 'Node floor, --jitless', command: node(['--jitless']), optional: true },
  { key: 'node-single', name: 'Node floor, --single-threaded', command: node(['--single-threaded']), optional: true },
  { key: 'node-tick1', name: 'Node floor, an empty timer every 1 ms', command: node([], () => ({ TAP_FLOOR_TICK_MS: '1' })), optional: true },
  { key: 'node-mlock', name: 'Node floor, mlockall (preload)', command: node([], (t) => ({ LD_PRELOAD: t.mlockPreload })), optional: true },
  { key: 'stack', name: 'stack (serve)' },
  { key: 'stack-largepages', name: 'stack, --use-largepages=silent', nodeArgs: ['--use-largepages=silent'], optional: true },
  { key: 'stack-stgc', name: 'stack, --single-threaded-gc', nodeArgs: ['--single-threaded-gc'], optional: true },
  { key: 'stack-st', name: 'stack, --single-threaded', nodeArgs: ['--single-threaded'], optional: true },
  { key: 'stack-noconc', name: 'stack, --no-concurrent-recompilation', nodeArgs: ['--no-concurrent-recompilation'], optional: true },
  // Session 17: V8's heap pages at its random addresses (`stack` packs them by default) or on huge pages.
  { key: 'stack-heap-off', name: 'stack, --heap-pages off', serveArgs: ['--heap-pages', 'off'], optional: true },
  { key: 'stack-heap-huge', name: 'stack, --heap-pages huge', serveArgs: ['--heap-pages', 'huge'], optional: true },
];

export interface Live {
  readonly rung: Rung;
  readonly ns: Netns;
  readonly pid: number | undefined;
}

export async function start(rung: Rung, tools: KernelTools, made: Netns[], role: string): Promise<Live> {
  if (rung.command === undefined) {
    const cli = fileURLToPath(new URL('../../dist/bin/rx-netstack.js', import.meta.url));
    const s = await stackNamespace({ cpu: CPU, cli }, made, role, true, rung.serveArgs ?? [], rung.nodeArgs ?? []);
    return { rung, ns: s.ns, pid: s.serve.pid };
  }
  const ns = await Netns.create(role);
  made.push(ns);
  await ns.ip(['tuntap', 'add', 'dev', TAP, 'mode', 'tap']);
  await ns.addAddress('198.18.0.1/24', TAP);
  await ns.ip(['link', 'set', TAP, 'up']);
  const [program, args, env] = rung.command(tools);
  const [prog, pargs] = pinned(CPU, program, args);
  const child: ChildProcess = ns.spawn(prog, pargs, env);
  await waitForLine(child, 'ready', 15_000, rung.name);
  return { rung, ns, pid: child.pid };
}

