#!/usr/bin/env node
/**
 * rx-netstack: the command-line program (compiled to dist/bin/rx-netstack.js, runs on plain node).
 *
 *   rx-netstack serve --tap NAME --ip CIDR [--gateway A] [--mac M] [--mtu N]
 *                     [--netns NS] [--host-ip CIDR] [--services LIST] [--pcap FILE]
 *
 * Exit codes: 0 after SIGINT/SIGTERM (and for --help), 1 when setup fails or the device dies,
 * 2 for bad options or no command at all.
 */
import { SERVE_USAGE, parseCommand } from './cli-args.js';
import { netnsHint } from './netns-hint.js';
import { runServer } from './run-server.js';

const argv = process.argv.slice(2);
const command = parseCommand(argv);
switch (command.kind) {
  case 'help':
    process.stdout.write(`${SERVE_USAGE}\n`);
    break;
  case 'usage':
    process.stderr.write(`${SERVE_USAGE}\n`);
    process.exitCode = 2;
    break;
  case 'invalid':
    process.stderr.write(`rx-netstack: bad options:\n${command.problems.map((p) => `  ${p}\n`).join('')}(rx-netstack --help shows them all)\n`);
    process.exitCode = 2;
    break;
  case 'serve': {
    // Checked before anything is touched: `ip netns add` would fail with a mount error, far
    // from saying "root".
    const hint = command.args.netns === undefined ? undefined : netnsHint(argv);
    if (hint !== undefined) {
      process.stderr.write(`rx-netstack: ${hint}\n`);
      process.exitCode = 1;
      break;
    }
    await runServer(command.args);
    break;
  }
}
