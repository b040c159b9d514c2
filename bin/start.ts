#!/usr/bin/env node
/**
 * `npm start`: `rx-netstack serve` with safe defaults, in a network namespace of its own.
 *
 *   namespace rxnetstack, TAP device rxtap0 in it, kernel side 198.18.0.1/24, stack 198.18.0.2/24,
 *   services echo:7, discard:9, chargen:19, http:80 and udp-echo:7
 *
 * Nothing is configured outside that namespace; on Ctrl-C it is removed again (when this program
 * created it). Needs root: as root it runs here; otherwise it runs itself again through sudo
 * when there is one, and says what it needs when there is not (see bin/privilege.ts).
 * A namespace left by an earlier start that was killed is removed first (bin/netns-owner.ts).
 *
 * RX_NETSTACK_NETNS=NAME picks another namespace name (a second copy, or a test's own).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { validNetnsName, type ServeArgs } from './cli-args.js';
import { claimNamespace, forgetOwner, inspectNamespace } from './netns-owner.js';
import { currentFacts, planPrivilege, runUnderSudo } from './privilege.js';
import { runServer } from './run-server.js';

const netns = process.env.RX_NETSTACK_NETNS ?? 'rxnetstack';
const say = (line: string): void => {
  process.stderr.write(`npm start: ${line}\n`);
};
const NO_ROOT_DEMO = 'No root at all? Two stacks on an in-memory wire need nothing special: node --import tsx examples/memory-pair.ts';

if (!validNetnsName(netns)) {
  say(`RX_NETSTACK_NETNS="${netns}" is not a namespace name (no "/", at most 127 bytes)`);
  process.exit(2);
}

const plan = planPrivilege(currentFacts());
switch (plan.kind) {
  case 'here':
    break;
  case 'sudo':
    say(`the TAP device and the network namespace need root: running this again as root through ${plan.sudo}`);
    process.exit(await runUnderSudo(plan.sudo, [fileURLToPath(import.meta.url), ...process.argv.slice(2)]));
  case 'none':
    say(`runs rx-netstack on a TAP device in its own network namespace, and that needs root (you are uid ${plan.uid}, and there is no sudo on PATH).`);
    say('Run it as root (log in as root, or: su -c "npm start"), or install and set up sudo.');
    say(NO_ROOT_DEMO);
    process.exit(1);
  case 'sudo-failed':
    say(`sudo ran this as uid ${plan.uid}, not root: the TAP device and the network namespace need root`);
    process.exit(1);
}

if (!existsSync('/dev/net/tun')) {
  say('needs /dev/net/tun (the TUN/TAP driver): modprobe tun, or on a container give it the device');
  say(NO_ROOT_DEMO);
  process.exit(1);
}

// What an earlier start may have left: its namespace, whose owner record says who made it.
const state = inspectNamespace(netns);
switch (state.kind) {
  case 'in-use':
    say(`namespace ${netns} belongs to another npm start that is still running (pid ${state.owner.pid}): stop that one first (Ctrl-C there, or kill ${state.owner.pid})`);
    process.exit(1);
  case 'leftover': {
    const del = spawnSync('ip', ['netns', 'del', netns], { encoding: 'utf8', timeout: 10_000 });
    if (del.status !== 0) {
      say(`namespace ${netns} was left by an earlier npm start (pid ${state.owner.pid}, gone) and cannot be removed: ${(del.stderr ?? del.error?.message ?? '').trim()}`);
      process.exit(1);
    }
    forgetOwner(netns);
    say(`removed namespace ${netns}, left by an earlier npm start (pid ${state.owner.pid}) that did not exit cleanly`);
    break;
  }
  case 'foreign':
    say(`namespace ${netns} already exists and was not made by npm start: using it as it is (it stays after exit; sudo ip netns del ${netns} removes it)`);
    break;
  case 'absent':
    forgetOwner(netns); // a record of a start killed before it made the namespace
    break;
}
if (state.kind !== 'foreign') {
  // Claimed before serve creates the namespace: a start killed at any point after leaves a record.
  const release = claimNamespace(netns);
  // Kept when the namespace outlives us (a forced quit, a failed delete): the next start cleans up.
  process.on('exit', () => {
    if (!existsSync(`/var/run/netns/${netns}`)) release();
  });
}

const DEFAULTS: ServeArgs = {
  netns,
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

await runServer(DEFAULTS, {
  afterReady: () => [
    `stack at 198.18.0.2 on ${DEFAULTS.tap}, kernel side 198.18.0.1, inside network namespace ${netns}`,
    `services: echo 7, discard 9, chargen 19, http 80 (TCP), echo 7 (UDP)`,
    `reach it from the kernel side (another terminal, as root; prefix sudo when you are not):`,
    `  ip netns exec ${netns} curl http://198.18.0.2/`,
    `  ip netns exec ${netns} ping 198.18.0.2          (ping: apt-get install iputils-ping)`,
    `  ip netns exec ${netns} ip neigh                 (the kernel's view of the stack)`,
    `Ctrl-C stops it and removes what it set up.`,
  ],
});
