#!/usr/bin/env node
/**
 * rx-netstack: the command-line program (compiled to dist/bin/rx-netstack.js, runs on plain node).
 *
 *   rx-netstack serve --tap NAME --ip CIDR [--gateway A] [--mac M] [--mtu N]
 *                     [--netns NS] [--host-ip CIDR] [--services LIST] [--pcap FILE]
 *
 * Exit codes: 0 after SIGINT/SIGTERM, 1 when setup fails or the device dies, 2 for bad options.
 */
import { SERVE_USAGE, parseCommand } from './cli-args.js';
import { runServer } from './run-server.js';

const command = parseCommand(process.argv.slice(2));
switch (command.kind) {
  case 'help':
    process.stdout.write(`${SERVE_USAGE}\n`);
    break;
  case 'invalid':
    process.stderr.write(`rx-netstack: bad options:\n${command.problems.map((p) => `  ${p}\n`).join('')}(rx-netstack --help shows them all)\n`);
    process.exitCode = 2;
    break;
  case 'serve':
    await runServer(command.args);
    break;
}
