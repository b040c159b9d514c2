/**
 * `rx-netstack nat` options: parsing with node:util parseArgs, then validation that names every
 * bad option at once. The addresses inside the namespace follow slirp4netns: in the network of
 * --cidr, the gateway is .2, the DNS forwarder .3 and the namespace's own address .100.
 */
import type { HeapPagesMode } from '../streams/links/heap-pages.js';
import { parseHeapPages } from './heap-pages-arg.js';
import { parseArgs } from 'node:util';
import { formatIpv4, parseIpv4 } from '../src/ipv4/address.js';
import { parseIpv4Cidr } from '../src/config/codecs.js';
import { validInterfaceName, validNetnsName } from './cli-args.js';

export const NAT_USAGE = `usage: rx-netstack nat --netns NS [options]

  Outbound networking for network namespace NS through this process's own sockets (like
  slirp4netns): a TUN (or TAP) device in NS with the address .100 of --cidr and a default route
  to the gateway .2; NS's TCP and UDP leave from here, DNS queries to .3 go to the resolvers of
  this host.

  --netns NS                the namespace (must exist; only it is configured)
  --tun NAME | --tap NAME   the device in NS (default: --tun tun0; created when absent)
  --cidr C                  the network inside NS (default 10.0.2.0/24; prefix at most /25)
  --mtu N                   the device's MTU (default 1500; 68..65521)
  --dns                     answer DNS at .3 of --cidr (the default)
  --disable-dns             no DNS forwarder
  --dns-upstream A[:P]      where DNS queries go (default: first nameserver of /etc/resolv.conf)
  --disable-host-loopback   refuse connections to the gateway (by default they reach 127.0.0.1 here)
  --publish [A:]H:N[/udp]   host port H (on address A, default all) to port N of NS; repeatable
  --disable-udp-offload     every UDP datagram through the stack (by default, on a TUN device,
                            established UDP flows are relayed in native code; also
                            RX_NETSTACK_NAT_UDP_OFFLOAD=0)
  --sched-slice US          this process's scheduling slice in microseconds (Linux 6.12 and
                            later; 100..100000, or 0 to leave the kernel's; default 6000 when
                            this process may run on one CPU only (one CPU, or pinned by taskset
                            or a cpuset), else 0): longer than its peers' so that
                            request/response through the nat costs fewer context switches
                            when they share its CPU (free to move over several CPUs, runs with
                            it fell into a slow mode more often)
  --sleep own|libuv         where the wait between wake-ups is made (default own: by the TUN
                            device's handle with poll(2) on the device and the host sockets,
                            served there; libuv: by Node's event loop, epoll)
  --busy-poll US            for US microseconds after each batch of frames (and, with --sleep
                            own, each host socket's event) look for the next without sleeping
                            (0..1000000; default 0, off): a free CPU's worth of polling for
                            fewer wake-ups, for request/response between CPUs
  --heap-pages MODE         where V8 maps the JavaScript heap's pages: packed (next to each
                            other, the default), huge (packed, and advised to use 2 MiB pages)
                            or off (V8's random addresses)
  -h, --help                this text

Prints "ready" on stdout once NS is connected; runs until SIGINT or SIGTERM, then removes what it
set up in NS.`;

export interface PublishSpec {
  readonly protocol: 'tcp' | 'udp';
  /** Host address to listen on; undefined: every address. */
  readonly hostAddress?: string;
  readonly hostPort: number;
  readonly guestPort: number;
}

/** Validated `nat` options, with the addresses derived from --cidr. */
export interface NatArgs {
  readonly netns: string;
  readonly device: { readonly kind: 'tun' | 'tap'; readonly name: string };
  /** `10.0.2.0/24` (network, canonical). */
  readonly cidr: string;
  readonly prefixLength: number;
  readonly gateway: string;
  readonly dns: string;
  readonly guest: string;
  readonly mtu: number;
  readonly dnsEnabled: boolean;
  /** From --dns-upstream; undefined: read /etc/resolv.conf at start. */
  readonly dnsUpstream?: { readonly address: string; readonly port: number };
  readonly hostLoopback: boolean;
  readonly publish: readonly PublishSpec[];
  /**
   * Established UDP flows relayed by the TUN device's flow table in the addon (bin/nat-udp.ts);
   * never with a TAP device. Default true; false with --disable-udp-offload (or the environment's
   * RX_NETSTACK_NAT_UDP_OFFLOAD=0, read when the nat starts).
   */
  readonly udpOffload?: boolean;
  /**
   * The event loop thread's scheduling slice in us (bin/nat-sched.ts); 0: the kernel's.
   * Undefined (no --sched-slice): NAT_DEFAULTS.schedSliceUs when the nat's CPU affinity allows
   * one CPU when it starts (a one-CPU machine, taskset, a cpuset), else 0.
   */
  readonly schedSliceUs?: number;
  /** --sleep: 'own' (the TUN handle's poll(2), native/tap-own-wait.c) or 'libuv'. Default own. */
  readonly sleep: 'own' | 'libuv';
  /** --busy-poll: the TUN handle's busy-poll window in microseconds (TapLinkOptions.busyPollUs), with either wait; 0 (the default): none. */
  readonly busyPollUs: number;
  /** `--heap-pages` (streams/links/heap-pages.ts); absent: HEAP_PAGES_DEFAULT (bin/heap-pages-arg.ts). */
  readonly heapPages?: HeapPagesMode;
}

/**
 * schedSliceUs: the slice --sched-slice's default gives a nat confined to one CPU (bin/nat-sched.ts):
 * about four times the kernel's default slice on 1-2 CPUs (1.4 ms at most), twice it on 8 or more (2.8 ms).
 */
export const NAT_DEFAULTS = { device: 'tun0', cidr: '10.0.2.0/24', mtu: 1500, schedSliceUs: 6000 } as const;
/** Offsets in the network, as slirp4netns has them. */
const GATEWAY_OFFSET = 2;
const DNS_OFFSET = 3;
const GUEST_OFFSET = 100;
/** The largest MTU slirp4netns accepts; the TUN driver takes more, but nobody needs it. */
const MAX_MTU = 65521;

const OPTIONS = {
  netns: { type: 'string' },
  tun: { type: 'string' },
  tap: { type: 'string' },
  cidr: { type: 'string' },
  mtu: { type: 'string' },
  dns: { type: 'boolean' },
  'disable-dns': { type: 'boolean' },
  'dns-upstream': { type: 'string' },
  'disable-host-loopback': { type: 'boolean' },
  'disable-udp-offload': { type: 'boolean' },
  publish: { type: 'string', multiple: true },
  'sched-slice': { type: 'string' },
  sleep: { type: 'string' },
  'busy-poll': { type: 'string' },
  'heap-pages': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

const FLAGS: ReadonlySet<string> = new Set(['dns', 'disable-dns', 'disable-host-loopback', 'disable-udp-offload', 'help']);

export type ParsedNat =
  | { readonly kind: 'nat'; readonly args: NatArgs }
  | { readonly kind: 'help' }
  | { readonly kind: 'invalid'; readonly problems: readonly string[] };

/** Parses and validates the options of `nat`; never throws. */
export function parseNat(argv: readonly string[]): ParsedNat {
  const problems: string[] = [];
  // strict: false so that every unknown option is reported, not only the first one.
  const { values, tokens } = parseArgs({ args: [...argv], options: OPTIONS, strict: false, allowPositionals: true, tokens: true });
  for (const token of tokens) {
    if (token.kind === 'option' && !(token.name in OPTIONS)) problems.push(`${token.rawName}: unknown option`);
    if (token.kind === 'positional') problems.push(`unexpected argument "${token.value}"`);
    if (token.kind === 'option' && token.name in OPTIONS) {
      if (FLAGS.has(token.name) && token.value !== undefined) problems.push(`--${token.name}: takes no value`);
      if (!FLAGS.has(token.name) && token.value === undefined) problems.push(`--${token.name}: needs a value`);
    }
  }
  if (values.help === true) return { kind: 'help' };
  const text = (name: 'netns' | 'tun' | 'tap' | 'cidr' | 'mtu' | 'dns-upstream' | 'sched-slice' | 'sleep' | 'busy-poll' | 'heap-pages'): string | undefined => {
    const v = values[name];
    return typeof v === 'string' ? v : undefined;
  };

  const netns = text('netns');
  if (netns === undefined) problems.push('--netns: required (the namespace to connect)');
  else if (!validNetnsName(netns)) problems.push(`--netns: "${netns}" is not a valid namespace name (no "/", at most 127 bytes)`);

  const tun = text('tun');
  const tap = text('tap');
  if (tun !== undefined && tap !== undefined) problems.push('--tun, --tap: give one of them, not both');
  const device = tap !== undefined ? { kind: 'tap' as const, name: tap } : { kind: 'tun' as const, name: tun ?? NAT_DEFAULTS.device };
  for (const [option, name] of [['tun', tun], ['tap', tap]] as const) {
    if (name !== undefined && !validInterfaceName(name)) {
      problems.push(`--${option}: "${name}" is not a valid interface name (1 to 15 bytes, no "/", ":" or spaces)`);
    }
  }

  const cidrText = text('cidr') ?? NAT_DEFAULTS.cidr;
  const cidr = parseIpv4Cidr(cidrText);
  if (cidr === undefined) problems.push(`--cidr: "${cidrText}" is not an IPv4 network with prefix, like 10.0.2.0/24`);
  else if (cidr.prefixLength < 1 || cidr.prefixLength > 25) {
    problems.push(`--cidr: ${cidrText} must have a prefix from /1 to /25 (the namespace's address is .${GUEST_OFFSET} of it)`);
  }

  const mtuText = text('mtu');
  let mtu: number = NAT_DEFAULTS.mtu;
  if (mtuText !== undefined) {
    mtu = /^[0-9]+$/.test(mtuText) ? Number(mtuText) : NaN;
    if (!(mtu >= 68 && mtu <= MAX_MTU)) problems.push(`--mtu: "${mtuText}" is not an integer from 68 to ${MAX_MTU}`);
  }

  if (values.dns === true && values['disable-dns'] === true) problems.push('--dns, --disable-dns: give one of them, not both');
  const dnsEnabled = values['disable-dns'] !== true;
  const upstreamText = text('dns-upstream');
  const dnsUpstream = upstreamText === undefined ? undefined : parseHostPort(upstreamText, 53);
  if (upstreamText !== undefined && dnsUpstream === undefined) {
    problems.push(`--dns-upstream: "${upstreamText}" is not an IPv4 address with an optional :port, like 192.0.2.53 or 192.0.2.53:5353`);
  }
  if (upstreamText !== undefined && !dnsEnabled) problems.push('--dns-upstream: not with --disable-dns');

  const sliceText = text('sched-slice');
  let schedSliceUs: number | undefined;
  if (sliceText !== undefined) {
    schedSliceUs = /^[0-9]+$/.test(sliceText) ? Number(sliceText) : NaN;
    if (!(schedSliceUs === 0 || (schedSliceUs >= 100 && schedSliceUs <= 100_000))) {
      problems.push(`--sched-slice: "${sliceText}" is not 0 or an integer from 100 to 100000 (microseconds)`);
    }
  }

  const sleepText = text('sleep') ?? 'own';
  const sleep = sleepText === 'own' || sleepText === 'libuv' ? sleepText : undefined;
  if (sleep === undefined) problems.push(`--sleep: "${sleepText}" is not own or libuv`);
  const busyText = text('busy-poll');
  let busyPollUs = 0;
  if (busyText !== undefined) {
    busyPollUs = /^[0-9]+$/.test(busyText) ? Number(busyText) : NaN;
    if (!(busyPollUs >= 0 && busyPollUs <= 1_000_000)) problems.push(`--busy-poll: "${busyText}" is not an integer from 0 to 1000000 (microseconds)`);
  }

  const heapPages = parseHeapPages(text('heap-pages'), problems);

  const publish = parsePublish((values.publish as string[] | undefined) ?? [], problems);

  if (problems.length > 0 || cidr === undefined) return { kind: 'invalid', problems };
  const at = (offset: number): string => formatIpv4((cidr.network + offset) >>> 0);
  return {
    kind: 'nat',
    args: {
      netns: netns!,
      device,
      cidr: `${formatIpv4(cidr.network)}/${cidr.prefixLength}`,
      prefixLength: cidr.prefixLength,
      gateway: at(GATEWAY_OFFSET),
      dns: at(DNS_OFFSET),
      guest: at(GUEST_OFFSET),
      mtu,
      dnsEnabled,
      ...(dnsUpstream === undefined ? {} : { dnsUpstream }),
      hostLoopback: values['disable-host-loopback'] !== true,
      publish,
      udpOffload: values['disable-udp-offload'] !== true,
      ...(schedSliceUs === undefined ? {} : { schedSliceUs }),
      sleep: sleep!,
      busyPollUs,
      ...(heapPages === undefined ? {} : { heapPages }),
    },
  };
}

/** `192.0.2.1` or `192.0.2.1:5353`. */
function parseHostPort(text: string, defaultPort: number): { address: string; port: number } | undefined {
  const [addressText, portText, ...extra] = text.split(':');
  if (extra.length > 0 || parseIpv4(addressText) === undefined) return undefined;
  const port = portText === undefined ? defaultPort : parsePort(portText);
  return port === undefined ? undefined : { address: formatIpv4(parseIpv4(addressText)!), port };
}

function parsePort(text: string): number | undefined {
  const port = /^[0-9]{1,5}$/.test(text) ? Number(text) : NaN;
  return port >= 1 && port <= 65535 ? port : undefined;
}

/** `[A:]H:N[/tcp|/udp]`, each once per host port and protocol. */
function parsePublish(items: readonly string[], problems: string[]): PublishSpec[] {
  const out: PublishSpec[] = [];
  for (const item of items) {
    const [ports, protocolText, ...extraSlash] = item.split('/');
    const parts = ports.split(':');
    const protocol = protocolText === undefined ? 'tcp' : protocolText.toLowerCase();
    const hostAddress = parts.length === 3 ? parts[0] : undefined;
    const hostPort = parsePort(parts.at(-2) ?? '');
    const guestPort = parsePort(parts.at(-1) ?? '');
    if (
      extraSlash.length > 0 || (protocol !== 'tcp' && protocol !== 'udp') || parts.length < 2 || parts.length > 3 ||
      hostPort === undefined || guestPort === undefined || (hostAddress !== undefined && parseIpv4(hostAddress) === undefined)
    ) {
      problems.push(`--publish: "${item}" is not [ADDRESS:]HOSTPORT:PORT[/tcp|/udp] with ports 1..65535, like 8080:80 or 127.0.0.1:5353:53/udp`);
      continue;
    }
    const clash = out.find((p) => p.protocol === protocol && p.hostPort === hostPort);
    if (clash !== undefined) {
      problems.push(`--publish: "${item}" publishes ${protocol} port ${hostPort} twice`);
      continue;
    }
    out.push({ protocol, ...(hostAddress === undefined ? {} : { hostAddress }), hostPort, guestPort });
  }
  return out;
}
