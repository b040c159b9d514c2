#!/usr/bin/env node
/**
 * rx-netstack: the command-line program (compiled to dist/bin/rx-netstack.js, runs on plain node).
 *
 *   rx-netstack serve --tap NAME --ip CIDR [--gateway A] [--mac M] [--mtu N]
 *                     [--netns NS] [--host-ip CIDR] [--services LIST] [--pcap FILE]
 *   rx-netstack nat --netns NS [--tun NAME | --tap NAME] [--cidr C] [--mtu N] [--dns | --disable-dns]
 *                   [--dns-upstream A[:P]] [--disable-host-loopback] [--publish [A:]H:N[/udp]]...
 *   (both: [--heap-pages packed|huge|off])
 *
 * Exit codes: 0 after SIGINT/SIGTERM (and for --help), 1 when setup fails or the device dies,
 * 2 for bad options or no command at all.
 *
 * Only the option parsers are imported up front: --heap-pages is applied before the stack's
 * modules load (their code and objects are most of the heap's long-lived pages), then the
 * command's module is imported.
 */
import { SERVE_USAGE, parseCommand } from './cli-args.js';
import { NAT_USAGE } from './nat-args.js';
import { netnsHint } from './netns-hint.js';
import { applyHeapPages } from './heap-pages-arg.js';
import type { HeapPagesMode } from '../streams/links/heap-pages.js';

/** --heap-pages, before the stack's modules load: V8's pages mapped from here on are placed by it. */
function heapPagesFirst(mode: HeapPagesMode | undefined): void {
  const problem = applyHeapPages(mode);
  if (problem !== undefined) process.stderr.write(`rx-netstack: ${problem}\n`);
}

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
    heapPagesFirst(command.args.heapPages);
    const { runServer } = await import('./run-server.js');
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
    heapPagesFirst(args.heapPages);
    const [{ runProgram }, { startNat }] = await Promise.all([import('./run-server.js'), import('./nat.js')]);
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
