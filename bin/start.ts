#!/usr/bin/env node
/**
 * `npm start`: `rx-netstack serve` with safe defaults, in a network namespace of its own.
 *
 *   namespace rxnetstack, TAP device rxtap0 in it, kernel side 198.18.0.1/24, stack 198.18.0.2/24,
 *   services echo:7, discard:9, chargen:19, http:80 and udp-echo:7
 *
 * Nothing is configured outside that namespace; on Ctrl-C it is removed again (when this program
 * created it). Needs root; without it, says so and points to the in-memory demo.
 */
import { existsSync } from 'node:fs';
import type { ServeArgs } from './cli-args.js';
import { runServer } from './run-server.js';

const DEFAULTS: ServeArgs = {
  netns: 'rxnetstack',
  tap: 'rxtap0',
  hostIp: '198.18.0.1/24',
  ip: '198.18.0.2/24',
  services: [
    { name: 'echo', port: 7 },
    { name: 'discard', port: 9 },
    { name: 'chargen', port: 19 },
    { name: 'http', port: 80 },
    { name: 'udp-echo', port: 7 },
  ],
};

const missing: string[] = [];
if (process.getuid?.() !== 0) missing.push('root (TAP devices need CAP_NET_ADMIN, network namespaces CAP_SYS_ADMIN)');
if (!existsSync('/dev/net/tun')) missing.push('/dev/net/tun (the TUN/TAP driver)');
if (missing.length > 0) {
  process.stderr.write(
    `npm start runs rx-netstack on a TAP device in its own network namespace, and that needs:\n` +
      missing.map((m) => `  - ${m}\n`).join('') +
      `Run it as root:   sudo npm start\n` +
      `No root? Two stacks talking over an in-memory wire need nothing special:\n` +
      `                  node --import tsx examples/memory-pair.ts\n`,
  );
  process.exit(1);
}

await runServer(DEFAULTS, {
  afterReady: () => [
    `stack at 198.18.0.2 on ${DEFAULTS.tap}, kernel side 198.18.0.1, inside network namespace ${DEFAULTS.netns}`,
    `services: echo 7, discard 9, chargen 19, http 80 (TCP), echo 7 (UDP)`,
    `reach it from the kernel side (another terminal):`,
    `  sudo ip netns exec ${DEFAULTS.netns} curl http://198.18.0.2/`,
    `  sudo ip netns exec ${DEFAULTS.netns} ping 198.18.0.2          (ping: apt-get install iputils-ping)`,
    `  sudo ip netns exec ${DEFAULTS.netns} ip neigh                 (the kernel's view of the stack)`,
    `Ctrl-C stops it and removes what it set up.`,
  ],
});
