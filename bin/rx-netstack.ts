#!/usr/bin/env node
/**
 * rx-netstack: the command-line program (compiled to dist/bin/rx-netstack.js, runs on plain node).
 *
 *   rx-netstack serve --tap NAME --ip CIDR [--gateway A] [--mac M] [--mtu N]
 *                     [--netns NS] [--host-ip CIDR] [--services LIST] [--pcap FILE]
 *   rx-netstack nat --netns NS [--tun NAME | --tap NAME] [--cidr C] [--mtu N] [--dns | --disable-dns]
 *                   [--dns-upstream A[:P]] [--disable-host-loopback] [--publish [A:]H:N[/udp]]...
 *
 * Exit codes: 0 after SIGINT/SIGTERM (and for --help), 1 when setup fails or the device dies,
 * 2 for bad options or no command at all.
 */
import { SERVE_USAGE, parseCommand } from './cli-args.js';
import { NAT_USAGE } from './nat-args.js';
import { startNat } from './nat.js';
import { netnsHint } from './netns-hint.js';
import { runProgram, runServer } from './run-server.js';

const argv = process.argv.slice(2);
const command = parseCommand(argv);
switch (command.kind) {
  case 'help':
    process.stdout.write(`${command.command === 'nat' ? NAT_USAGE : command.command === 'serve' ? SERVE_USAGE : `${SERVE_USAGE}\n\n${NAT_USAGE}`}\n`);
    break;
  case 'usage':
    process.stderr.write(`${SERVE_USAGE}\n\n${NAT_USAGE}\n`);
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
  case 'nat': {
    const hint = netnsHint(argv);
    if (hint !== undefined) {
      process.stderr.write(`rx-netstack: ${hint}\n`);
      process.exitCode = 1;
      break;
    }
    const { args } = command;
    await runProgram({
      start: (report, onFatal) => startNat(args, { report, onFatal }),
      afterReady: (nat) => [
        `netns ${args.netns} reaches out through this process: ${args.guest} -> gateway ${args.gateway}` +
          (nat.dnsUpstream === undefined ? '' : `, nameserver ${args.dns}`),
        'Ctrl-C stops it and removes what it set up in the namespace.',
      ],
    });
    break;
  }
}
