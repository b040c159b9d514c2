/**
 * The plumbing of `rx-netstack nat` inside the namespace: the TUN or TAP device (opened there,
 * created when absent), the namespace's address on it, its default route to the gateway, and
 * loopback up, as `slirp4netns --configure` does. Nothing is configured outside the namespace.
 *
 * Each change is recorded as an undo step when it is made; `undo()` runs them in reverse, so
 * a failure half-way and a Ctrl-C both leave the namespace as it was found. A device this
 * program created vanishes with its addresses and routes when its file descriptor is closed.
 */
import { existsSync } from 'node:fs';
import { tapLink, type TapLink } from '../streams/links/tap-link.js';
import { tunLink } from '../streams/links/tun-link.js';
import { NETNS_DIR } from './netns-owner.js';
import { hasAddress, ip } from './ip-command.js';
import type { NatArgs } from './nat-args.js';

export interface UndoStep {
  readonly what: string;
  run(): Promise<void> | void;
}

/** Undo steps, run last-first; failures are reported and the rest still run. */
export class UndoList {
  readonly #steps: UndoStep[] = [];
  #running: Promise<void> | undefined;

  constructor(private readonly report: (line: string) => void) {}

  push(what: string, run: () => Promise<void> | void): void {
    this.#steps.push({ what, run });
  }

  /** Runs every step once; later calls get the same promise. */
  run(): Promise<void> {
    this.#running ??= (async () => {
      for (const step of this.#steps.reverse()) {
        try {
          await step.run();
        } catch (error) {
          this.report(`while undoing "${step.what}": ${(error as Error).message}`);
        }
      }
    })();
    return this.#running;
  }
}

/** Opens the device in the namespace and gives the namespace its address and route. */
export async function plumbNamespace(args: NatArgs, undo: UndoList, report: (line: string) => void): Promise<TapLink> {
  const { netns } = args;
  const name = args.device.name;
  if (!existsSync(`${NETNS_DIR}/${netns}`)) {
    throw Object.assign(new Error(`no network namespace "${netns}" (make it first: ip netns add ${netns})`), { code: 'ENOENT' });
  }
  // --busy-poll: the device's one busy-poll window, honoured by either wait (--sleep).
  const options = { name, netns, mtu: args.mtu, up: true, ...(args.busyPollUs > 0 ? { busyPollUs: args.busyPollUs } : {}) };
  const link = args.device.kind === 'tun' ? tunLink(options) : tapLink(options);
  // close() puts a pre-existing device back as found (MTU, up/down); one we created goes away.
  undo.push(`attach ${name}`, () => link.close());
  const created = link.device.created;
  report(`${created ? 'created' : 'attached to'} ${args.device.kind.toUpperCase()} device ${name} in netns ${netns} (MTU ${link.mtu})`);
  const stillThere = (): boolean => !created && existsSync(`${NETNS_DIR}/${netns}`);

  const guestCidr = `${args.guest}/${args.prefixLength}`;
  if (!(await hasAddress(netns, name, guestCidr))) {
    await ip(['-n', netns, 'addr', 'add', guestCidr, 'dev', name]);
    undo.push(`address ${guestCidr}`, async () => {
      if (stillThere()) await ip(['-n', netns, 'addr', 'del', guestCidr, 'dev', name]);
    });
  }

  try {
    await ip(['-n', netns, 'route', 'add', 'default', 'via', args.gateway, 'dev', name]);
  } catch (error) {
    throw new Error(`cannot add the default route in ${netns} (has it one already? ip -n ${netns} route): ${(error as Error).message}`);
  }
  undo.push('default route', async () => {
    if (stillThere()) await ip(['-n', netns, 'route', 'del', 'default', 'via', args.gateway, 'dev', name]);
  });

  const [lo] = JSON.parse(await ip(['-n', netns, '-j', 'link', 'show', 'lo'])) as Array<{ flags: string[] }>;
  if (!lo.flags.includes('UP')) {
    await ip(['-n', netns, 'link', 'set', 'lo', 'up']);
    undo.push('loopback up', async () => {
      if (existsSync(`${NETNS_DIR}/${netns}`)) await ip(['-n', netns, 'link', 'set', 'lo', 'down']);
    });
  }
  report(`netns ${netns}: ${guestCidr} on ${name}, default route via ${args.gateway}${args.dnsEnabled ? `, DNS at ${args.dns}` : ''}`);
  return link;
}
