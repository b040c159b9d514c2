/**
 * The body of `rx-netstack nat`: the device and addresses in the namespace (nat-device.ts), a
 * stack on the device that is the namespace's gateway (.2) and DNS forwarder (.3), and the
 * relays that terminate whatever the namespace sends anywhere and carry it on through this
 * process's own sockets (nat-tcp.ts, nat-udp.ts), plus the published ports (nat-publish.ts).
 *
 * ICMP: the stack answers echo requests to the gateway and DNS addresses itself; echo requests
 * to other addresses go out through the host's ICMP datagram socket (nat-icmp.ts), or, where the
 * host refuses that socket, unanswered.
 */
import type { Subscription } from 'rxjs';
import type { TapLink } from '../streams/links/tap-link.js';
import { DirectGate } from '../streams/pipeline/direct-gate.js';
import { TapPoint } from '../streams/pipeline/taps.js';
import { IPV4_OUTPUT_DEFAULTS } from '../src/ipv4/config.js';
import { createStack, type Stack } from '../streams/stack/create-stack.js';
import { NAT_DEFAULTS, type NatArgs } from './nat-args.js';
import { plumbNamespace, UndoList } from './nat-device.js';
import { relayEcho } from './nat-icmp.js';
import { publish } from './nat-publish.js';
import { applySchedSlice, defaultSchedSliceUs } from './nat-sched.js';
import { relayTcp } from './nat-tcp.js';
import { relayUdp, type UdpFlowOffload } from './nat-udp.js';
import { hostNameserver } from './resolv-conf.js';
import type { Running } from './run-server.js';

export interface NatOptions {
  /** Where progress lines go. Default: nowhere. */
  readonly report?: (line: string) => void;
  /** Called once if the device fails for good (deleted under us, the namespace gone...). */
  readonly onFatal?: (error: Error) => void;
  /** Where the host's resolvers are read when there is no --dns-upstream. Default /etc/resolv.conf. */
  readonly resolvConf?: string;
  /** A UDP flow with no datagram either way for this long ends (tests). Default 60 s. */
  readonly udpIdleTimeoutMs?: number;
}

export interface Nat extends Running {
  readonly stack: Stack;
  readonly link: TapLink;
  /** Where DNS queries go (undefined: DNS off, or no resolver known). */
  readonly dnsUpstream: { readonly address: string; readonly port: number } | undefined;
}

/** Sets it all up; rejects (having undone what it did) when something fails. */
export async function startNat(args: NatArgs, options: NatOptions = {}): Promise<Nat> {
  const report = options.report ?? (() => undefined);
  const undo = new UndoList(report);
  try {
    const link = await plumbNamespace(args, undo, report);
    // The device dying errors failed$ (a second subscriber of frames$ would count as one that
    // may keep frames, and hold every receive batch's memory: tap-link.ts, recycleSlabs).
    const fatal = link.failed$.subscribe({ error: (error: Error) => options.onFatal?.(error) });
    undo.push('watch the device', () => fatal.unsubscribe());
    // This thread runs every relay (and the flow offload's native reads and writes).
    // By default only where this thread cannot move: its affinity allows one CPU (bin/nat-sched.ts).
    const restoreSlice = applySchedSlice(args.schedSliceUs ?? defaultSchedSliceUs(NAT_DEFAULTS.schedSliceUs), report);
    if (restoreSlice !== undefined) undo.push('scheduling slice', restoreSlice);
    // The sleep between wake-ups in the TUN handle's hands (--sleep own, the default: poll(2) of the
    // device, the host sockets and libuv's backend fd, saving libuv's extra poll and the loop's
    // turn per wake-up; native/tap-own-wait.c). --busy-poll is the link's busyPollUs (nat-device.ts).
    if (args.sleep === 'own') link.device.nativeHandle.ownSleep(true);

    const addresses = [args.gateway, ...(args.dnsEnabled ? [args.dns] : [])];
    const stack = createStack({
      interfaces: [{ name: args.device.name, link, ipv4: addresses.map((a) => `${a}/${args.prefixLength}`) }],
    });
    undo.push('stack', () => stack.close());

    let dnsUpstream: Nat['dnsUpstream'];
    if (args.dnsEnabled) {
      const fromHost = args.dnsUpstream === undefined ? hostNameserver(options.resolvConf) : undefined;
      dnsUpstream = args.dnsUpstream ?? (fromHost === undefined ? undefined : { address: fromHost, port: 53 });
      if (dnsUpstream === undefined) report(`no IPv4 nameserver in ${options.resolvConf ?? '/etc/resolv.conf'}: DNS queries to ${args.dns} go unanswered`);
    }
    // A datagram, ping or TCP data handed to a host socket is answered through that socket: the device's
    // one-read-per-wake-up rule would otherwise see an unanswered frame and read to EAGAIN.
    const answeredElsewhere = (): void => link.answeredElsewhere();
    const offload = udpFlowOffload(args, stack, link);
    const relays: Subscription[] = [
      relayTcp(stack, { gateway: args.gateway, hostLoopback: args.hostLoopback, refused: args.dnsEnabled ? [args.dns] : [], answeredElsewhere }),
      relayUdp(stack, {
        gateway: args.gateway,
        hostLoopback: args.hostLoopback,
        ...(args.dnsEnabled ? { dns: args.dns } : {}),
        ...(dnsUpstream === undefined ? {} : { dnsUpstream }),
        answeredElsewhere,
        ...(offload === undefined ? {} : { offload }),
        ...(options.udpIdleTimeoutMs === undefined ? {} : { idleTimeoutMs: options.udpIdleTimeoutMs }),
      }),
    ];
    const echo = relayEcho(stack, { answeredElsewhere });
    if (echo.mode === 'host-socket') relays.push(echo.subscription);
    else report(`pings to addresses other than ${addresses.join(', ')} go unanswered: ${echo.reason} (see net.ipv4.ping_group_range)`);
    undo.push('relays', () => relays.forEach((r) => r.unsubscribe()));
    if (dnsUpstream !== undefined) report(`DNS at ${args.dns}:53 goes to ${dnsUpstream.address}:${dnsUpstream.port}`);

    for (const spec of args.publish) {
      const published = await publish(stack, args.guest, spec);
      undo.push(`publish ${published.description}`, () => published.close());
      report(`published ${published.description}`);
    }
    return { stack, link, dnsUpstream, close: () => undo.run(), summary: () => `stopped (${stack.stats().ipv4.rxForeign} datagrams relayed from ${args.netns})` };
  } catch (error) {
    await undo.run();
    throw error;
  }
}

/**
 * The UDP flow offload of a TUN device (bin/nat-udp.ts), unless turned off (--disable-udp-offload,
 * RX_NETSTACK_NAT_UDP_OFFLOAD=0): its gate is shut while the link, network or transport tap point
 * is observed either way, or IPv4's `observe$` (the nat's stack has no operators).
 */
function udpFlowOffload(args: NatArgs, stack: Stack, link: TapLink): UdpFlowOffload | undefined {
  if (args.udpOffload === false || process.env.RX_NETSTACK_NAT_UDP_OFFLOAD === '0' || args.device.kind !== 'tun') return undefined;
  const gate = new DirectGate();
  for (const point of [stack.taps.link, stack.taps.network, stack.taps.transport]) {
    // A stack's taps are TapPoints; something else could not tell us of its observers: no offload.
    if (!(point instanceof TapPoint)) return undefined;
    // Kept for the stack's life: the gate is the relay's, and both end with the nat.
    point.keepUp(gate);
    point.keepDown(gate);
  }
  stack.ipv4.keepObserveGate(gate);
  return { device: link.device.nativeHandle, mtu: link.mtu, ttl: IPV4_OUTPUT_DEFAULTS.defaultTtl, gate };
}
