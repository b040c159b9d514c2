#!/usr/bin/env node
/**
 * `npm test`'s last step (after the typecheck and the build): mocha, as root.
 *
 * The kernel-peer tests create TAP devices and network namespaces, so they need root. As root,
 * mocha runs here. Not root with sudo on PATH: mocha runs through sudo (which may ask for a
 * password), CI, DEBUG and RX_NETSTACK_* kept. Not root and no sudo: mocha runs here anyway,
 * after a banner saying that the kernel-peer tests will be skipped (or, under CI=true, fail),
 * and what to do to run them. Arguments go to mocha: `npm test -- test/bin/start.test.ts`.
 * Plain JavaScript on purpose: it runs the privilege logic the build just compiled
 * (dist/bin/privilege.js), with nothing but node.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { currentFacts, planPrivilege, runUnderSudo } from '../dist/bin/privilege.js';

const mocha = fileURLToPath(new URL('../node_modules/mocha/bin/mocha.js', import.meta.url));
const args = [mocha, ...process.argv.slice(2)];
const say = (line) => process.stderr.write(`npm test: ${line}\n`);

const plan = planPrivilege(currentFacts());
switch (plan.kind) {
  case 'here':
    break;
  case 'sudo':
    say(`the kernel-peer tests need root: running mocha as root through ${plan.sudo}`);
    process.exit(await runUnderSudo(plan.sudo, args));
    break;
  case 'none':
  case 'sudo-failed': {
    const bar = '!'.repeat(78);
    say(`${bar}`);
    say(`not root (uid ${plan.uid}) and no sudo: the kernel-peer tests (TAP devices in network`);
    say('namespaces) will be SKIPPED, or FAIL under CI=true. To run them all, run npm test as root');
    say('(log in as root, or: su -c "npm test"), or install and set up sudo.');
    say(`${bar}`);
    break;
  }
}

// Here: mocha as a child so that its exit status (and a signal that ended it) becomes ours.
const child = spawn(process.execPath, args, { stdio: 'inherit' });
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
child.once('exit', (code, signal) => {
  process.exit(code ?? (signal === null ? 1 : 128 + (signal === 'SIGINT' ? 2 : 15)));
});
