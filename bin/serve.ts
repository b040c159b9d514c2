/**
 * The body of `rx-netstack serve`: set up the namespace (when asked), attach to the TAP device,
 * start the stack on it, and undo all of it on close, leaving the device and namespace as found.
 *
 * Everything done to the system is recorded as an undo step at the moment it is done, and
 * `close()` runs the steps in reverse: a failure half-way through setup undoes what was done.
 */
import { existsSync } from 'node:fs';
import createDebug from 'debug';
import type { Link } from '../streams/links/link.js';
import { tapLink, type TapLink } from '../streams/links/tap-link.js';
import { captureLink } from '../streams/operators/capture.js';
import type { ServeArgs } from './cli-args.js';
import { hasAddress, ip } from './ip-command.js';
import type { Subscription } from 'rxjs';
import { createStack, type Stack } from '../streams/stack/create-stack.js';
import { startServices } from '../streams/services/index.js';

const log = createDebug('rx-netstack:cli');

export type ServeOptions = ServeArgs & {
  /** Where progress lines go (not stdout, which carries only `ready`). Default: nowhere. */
  readonly report?: (line: string) => void;
  /** Called once if the link fails for good (device deleted...). */
  readonly onFatal?: (error: Error) => void;
};

/** The stack running on the link, with its services. */
export interface RunningStack {
  readonly stack: Stack;
  /** Frames received from the link so far. */
  readonly framesIn: () => number;
  close(): void;
}

export interface Server {
  readonly link: Link;
  readonly tap: TapLink;
  readonly stack: RunningStack;
  /** Namespace created by this server (deleted again on close), if any. */
  readonly createdNetns: boolean;
  /** Stops the stack, releases the device, undoes the setup. Idempotent. */
  close(): Promise<void>;
}

/** True when the options ask for IPv6 (`--ip6` or `--gw6`). */
export function wantsIpv6(options: Pick<ServeArgs, 'ip6' | 'gw6'>): boolean {
  return (options.ip6?.length ?? 0) > 0 || options.gw6 !== undefined;
}

/**
 * THE one place where the stack is created on the attached link: one interface with the
 * stack's address (and its own MAC, never the TAP device's), default routes when --gateway or
 * --gw6 is given (a link-local IPv6 gateway names the interface), IPv6 addresses of --ip6 and
 * SLAAC unless --no-slaac, and the services of --services. Throws (before `ready`) when a
 * service cannot start.
 */
export function startStack(link: Link, options: ServeOptions): RunningStack {
  const ip6 = options.ip6 ?? [];
  const routes: { destination: string; gateway: string; interface?: string }[] = [];
  if (options.gateway !== undefined) routes.push({ destination: '0.0.0.0/0', gateway: options.gateway });
  if (options.gw6 !== undefined) routes.push({ destination: '::/0', gateway: options.gw6, interface: options.tap });
  const stack = createStack({
    interfaces: [{ name: options.tap, link, ipv4: [options.ip], ...(ip6.length > 0 ? { ipv6: ip6 } : {}), ...(options.mac === undefined ? {} : { mac: options.mac }) }],
    routes,
    ...(wantsIpv6(options) ? { ipv6: { enabled: true, slaac: options.slaac !== false } } : {}),
  });
  let services: Subscription;
  try {
    services = startServices(stack, options.services);
  } catch (err) {
    stack.close();
    throw err;
  }
  const linkStats = stack.statsRegistry.get(`eth:${options.tap}`) as { rxFrames: number } | undefined;
  return {
    stack,
    framesIn: () => linkStats?.rxFrames ?? 0,
    close: () => {
      services.unsubscribe();
      stack.close();
    },
  };
}

/** Sets up and attaches; resolves once the TAP device is attached, the stack runs and its IPv6 addresses (if any) passed DAD. */
export async function serve(options: ServeOptions): Promise<Server> {
  const undo: Array<{ what: string; run: () => Promise<void> | void }> = [];
  let createdNetns = false;
  let closing: Promise<void> | undefined;

  const close = (): Promise<void> => {
    closing ??= (async () => {
      for (const step of undo.reverse()) {
        try {
          await step.run();
        } catch (error) {
          options.report?.(`while undoing "${step.what}": ${(error as Error).message}`);
        }
      }
    })();
    return closing;
  };

  try {
    const { netns } = options;
    if (netns !== undefined && !existsSync(`/var/run/netns/${netns}`)) {
      // The undo step goes in first: an `ip netns add` that fails half-way must not leave it.
      undo.push({
        what: `create netns ${netns}`,
        run: async () => {
          if (existsSync(`/var/run/netns/${netns}`)) await ip(['netns', 'del', netns]);
        },
      });
      await ip(['netns', 'add', netns]);
      createdNetns = true;
      // A namespace of our own: loopback up, no IPv6 chatter on the TAP device unless the stack
      // speaks IPv6 (--ip6, --gw6): then the kernel side keeps it, to be a peer.
      await ip(['-n', netns, 'link', 'set', 'lo', 'up']);
      if (!wantsIpv6(options)) {
        await ip(['netns', 'exec', netns, 'sysctl', '-q', '-w', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
      }
      options.report?.(`created network namespace ${netns}`);
    }

    const tap = tapLink({
      name: options.tap,
      ...(netns === undefined ? {} : { netns }),
      ...(options.mtu === undefined ? {} : { mtu: options.mtu }),
      ...(options.mac === undefined ? {} : { mac: options.mac }),
      ...(options.busyPollUs === undefined ? {} : { busyPollUs: options.busyPollUs }),
      up: true,
    });
    // --sleep own: the wait between wake-ups in the device handle's hands (as the nat's):
    // poll(2) of the device and libuv's own fd until libuv's next timer, a frame served there,
    // anything else of Node's handed back to its loop (native/tap-own-wait.c). It saves libuv's
    // poll without a timeout and a turn of the loop per wake-up: less CPU per sporadic request,
    // a little more when requests come back to back, where it finds nothing to wait for
    // (docs/history/session-16.md "Session 16: the ping's p50 every 2 ms"). So not the default.
    if (options.sleep === 'own') tap.device.nativeHandle.ownSleep(true);
    // tapLink.close() also puts a pre-existing device back as found (MTU, MAC, up/down).
    undo.push({ what: `attach ${options.tap}`, run: () => tap.close() });
    // The device dying (deleted under us...) errors failed$ (watched there, not on frames$, whose
    // second subscriber would keep received batches from being reused): the program ends with status 1.
    const fatal = tap.failed$.subscribe({ error: (error: Error) => options.onFatal?.(error) });
    undo.push({ what: 'watch the device', run: () => fatal.unsubscribe() });
    options.report?.(
      `${tap.device.created ? 'created' : 'attached to'} TAP device ${tap.name}${netns === undefined ? '' : ` in netns ${netns}`}` +
        ` (kernel side MAC ${tap.device.mac}, MTU ${tap.mtu})`,
    );

    if (options.hostIp !== undefined && netns !== undefined) {
      const device = tap.name;
      const present = await hasAddress(netns, device, options.hostIp);
      if (!present) {
        await ip(['-n', netns, 'addr', 'add', options.hostIp, 'dev', device]);
        undo.push({
          what: `address ${options.hostIp}`,
          // A device we created is gone with its addresses once closed: only undo on one that stays.
          run: async () => {
            if (!tap.device.created && existsSync(`/var/run/netns/${netns}`)) {
              await ip(['-n', netns, 'addr', 'del', options.hostIp!, 'dev', device]).catch(() => undefined);
            }
          },
        });
        options.report?.(`kernel side address ${options.hostIp} on ${device} in netns ${netns}`);
      }
    }

    let link: Link = tap;
    if (options.pcap !== undefined) {
      let captureClosed!: () => void;
      const flushed = new Promise<void>((resolve) => (captureClosed = resolve));
      link = captureLink(tap, options.pcap, {
        onClose: () => captureClosed(),
        onError: (error) => options.report?.(`capture stopped: ${error.message}`),
      });
      const capturing = link;
      // captureLink.close() ends the capture file and closes the TAP link (already in undo:
      // idempotent). The file is complete once its stream has closed: wait for that (bounded),
      // or process.exit() would cut off the records still being written.
      undo.push({
        what: `capture ${options.pcap}`,
        run: async () => {
          capturing.close();
          await Promise.race([flushed, new Promise((resolve) => setTimeout(resolve, CAPTURE_FLUSH_MS).unref())]);
        },
      });
      options.report?.(`capturing to ${options.pcap}`);
    }

    const stack = startStack(link, options);
    undo.push({ what: 'stack', run: () => stack.close() });
    // `ready` means the addresses answer: IPv6 ones only after DAD (a second or two).
    await stack.stack.inet6.ready();
    log('serving on %s', tap.name);
    return { link, tap, stack, createdNetns, close };
  } catch (error) {
    await close();
    throw error;
  }
}

/** How long closing waits for the capture file to be written out. */
const CAPTURE_FLUSH_MS = 5000;
