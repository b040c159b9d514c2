/**
 * `rx-netstack serve` options: parsing with node:util parseArgs, then validation that names
 * every bad option at once (the user fixes them in one go, not one per run).
 */
import { parseArgs } from 'node:util';
import { existsSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { formatIpv4, inSubnet, parseIpv4 } from '../src/ipv4/address.js';
import { parseMac } from '../src/mac.js';
import { parseIpv4Cidr } from '../src/config/codecs.js';
import {
  formatIpv6, ipv6InPrefix, ipv6Network, isIpv4MappedAt, isIpv6LinkLocal, isIpv6Loopback, isIpv6Multicast, isIpv6Unspecified, parseIpv6,
  parseIpv6Prefix, type Ipv6Addr,
} from '../src/ipv6/address.js';
import { parseNat, type NatArgs } from './nat-args.js';
import type { HeapPagesMode } from '../streams/links/heap-pages.js';
import { parseHeapPages } from './heap-pages-arg.js';

export const SERVE_USAGE = `usage: rx-netstack serve --tap NAME --ip CIDR [options]

  --tap NAME         TAP device to attach to (created when absent)
  --ip CIDR          the stack's address, e.g. 198.18.0.2/24
  --gateway A        default gateway (must lie in --ip's subnet)
  --ip6 CIDR         an IPv6 address of the stack, e.g. fd00:198:18::2/64 (repeatable);
                     turns IPv6 on: a link-local address, DAD, router discovery, SLAAC
  --gw6 A            IPv6 default gateway: link-local (fe80::1) or on an --ip6 prefix;
                     turns IPv6 on
  --no-slaac         with IPv6: form no addresses from router advertisements (routers,
                     on-link prefixes and the MTU are still learnt from them)
  --mac M            the stack's MAC (default: random, locally administered)
  --mtu N            set the TAP device's MTU (68..65535)
  --netns NS         open the TAP device inside network namespace NS (created when absent)
  --host-ip CIDR     with --netns: the kernel side address on the TAP device in NS
  --services LIST    name[:port],... e.g. echo:7,discard:9,chargen:19,http:80,udp-echo:7
                     (without :port, the standard port shown here):
                       echo      TCP echo, RFC 862
                       discard   TCP discard, RFC 863
                       chargen   TCP character generator, RFC 864
                       http      node:http on the stack: GET / answers 200
                       udp-echo  UDP echo, RFC 862
  --pcap FILE        record every frame in and out to FILE (classic pcap)
  --busy-poll US     after each batch keep polling the device for US microseconds
                     instead of sleeping (lower latency at low load, more CPU; default off)
  --sleep own|libuv  where the wait between wake-ups is made (default libuv: Node's loop;
                     own: by the TAP device's handle, with poll(2) of the device and libuv's
                     own fd, less CPU per sporadic request, a little more under steady load)
  --heap-pages MODE  where V8 maps the JavaScript heap's pages: packed (next to each other,
                     the default), huge (packed, and advised to use 2 MiB pages) or off
                     (V8's random addresses)
  -h, --help         this text

Prints "ready" on stdout once attached; runs until SIGINT or SIGTERM.`;

/** Services `--services` knows, with their default ports. */
export const KNOWN_SERVICES = {
  echo: 7,
  discard: 9,
  chargen: 19,
  http: 80,
  'udp-echo': 7,
} as const;
export type ServiceName = keyof typeof KNOWN_SERVICES;

/** The transport each service listens on: two services may share a port number, not a port. */
export const SERVICE_PROTOCOL: Readonly<Record<ServiceName, 'TCP' | 'UDP'>> = {
  echo: 'TCP',
  discard: 'TCP',
  chargen: 'TCP',
  http: 'TCP',
  'udp-echo': 'UDP',
};

export interface ServiceSpec {
  readonly name: ServiceName;
  readonly port: number;
}

/** Validated `serve` options (strings kept in their canonical text form). */
export interface ServeArgs {
  readonly tap: string;
  readonly ip: string;
  readonly gateway?: string;
  /** Static IPv6 addresses (`--ip6`, canonical text with prefix length); IPv6 is on when any is given or `gw6`. */
  readonly ip6?: readonly string[];
  readonly gw6?: string;
  /** SLAAC from router advertisements (default true; `--no-slaac`). */
  readonly slaac?: boolean;
  readonly mac?: string;
  readonly mtu?: number;
  readonly netns?: string;
  readonly hostIp?: string;
  readonly services: readonly ServiceSpec[];
  readonly pcap?: string;
  /** Busy-poll window in microseconds (TapLinkOptions.busyPollUs); absent: off. */
  readonly busyPollUs?: number;
  /**
   * Where the wait between wake-ups is made (`--sleep`): 'libuv' (absent, the default) by
   * Node's event loop, 'own' by the TAP device's handle (TapDevice.nativeHandle.ownSleep,
   * native/tap-own-wait.c). Not the default: measured in session 16, it saves 5-8 % of the CPU
   * per spaced request and costs 3-7 % per back-to-back exchange (docs/history/session-16.md
   * "Session 16: the ping's p50 every 2 ms").
   */
  readonly sleep?: 'own' | 'libuv';
  /** `--heap-pages` (streams/links/heap-pages.ts); absent: HEAP_PAGES_DEFAULT. */
  readonly heapPages?: HeapPagesMode;
}

export type ParsedCommand =
  | { readonly kind: 'serve'; readonly args: ServeArgs }
  | { readonly kind: 'nat'; readonly args: NatArgs }
  /** `--help`: the usage (of `command`, or of all) on stdout, exit 0. */
  | { readonly kind: 'help'; readonly command?: 'serve' | 'nat' }
  /** No command at all: the usage on stderr, exit 2 (a script that forgot its arguments fails). */
  | { readonly kind: 'usage' }
  | { readonly kind: 'invalid'; readonly problems: readonly string[] };

const OPTIONS = {
  tap: { type: 'string' },
  ip: { type: 'string' },
  gateway: { type: 'string' },
  ip6: { type: 'string', multiple: true },
  gw6: { type: 'string' },
  'no-slaac': { type: 'boolean' },
  mac: { type: 'string' },
  mtu: { type: 'string' },
  netns: { type: 'string' },
  'host-ip': { type: 'string' },
  services: { type: 'string' },
  pcap: { type: 'string' },
  'busy-poll': { type: 'string' },
  sleep: { type: 'string' },
  'heap-pages': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** Parses `rx-netstack <argv>`; never throws. */
export function parseCommand(argv: readonly string[]): ParsedCommand {
  const [command, ...rest] = argv;
  if (command === undefined) return { kind: 'usage' };
  if (command === '-h' || command === '--help' || command === 'help') return { kind: 'help' };
  if (command === 'nat') {
    const nat = parseNat(rest);
    return nat.kind === 'help' ? { kind: 'help', command: 'nat' } : nat;
  }
  if (command !== 'serve') return { kind: 'invalid', problems: [`unknown command "${command}" (the commands are: serve, nat)`] };
  return parseServe(rest);
}

/** Parses and validates the options of `serve`. */
export function parseServe(argv: readonly string[]): ParsedCommand {
  const problems: string[] = [];
  // strict: false so that every unknown option is reported, not only the first one.
  const { values, tokens } = parseArgs({ args: [...argv], options: OPTIONS, strict: false, allowPositionals: true, tokens: true });
  for (const token of tokens) {
    if (token.kind === 'option' && !(token.name in OPTIONS)) problems.push(`${token.rawName}: unknown option`);
    if (token.kind === 'positional') problems.push(`unexpected argument "${token.value}"`);
    if (token.kind === 'option' && token.name in OPTIONS && OPTIONS[token.name as keyof typeof OPTIONS].type === 'string' && token.value === undefined) {
      problems.push(`--${token.name}: needs a value`);
    }
  }
  if (values.help === true) return { kind: 'help', command: 'serve' };
  const text = (name: keyof typeof OPTIONS): string | undefined => {
    const v = values[name];
    return typeof v === 'string' ? v : undefined;
  };

  const tap = text('tap');
  if (tap === undefined) problems.push('--tap: required (the TAP device name)');
  else if (!validInterfaceName(tap)) problems.push(`--tap: "${tap}" is not a valid interface name (1 to 15 bytes, no "/", ":" or spaces)`);

  const ipText = text('ip');
  const ip = ipText === undefined ? undefined : parseIpv4Cidr(ipText);
  if (ipText === undefined) problems.push('--ip: required (the stack\'s address, e.g. 198.18.0.2/24)');
  else if (ip === undefined || ip.prefixLength === 0) problems.push(`--ip: "${ipText}" is not an IPv4 address with prefix, like 198.18.0.2/24`);

  const gateway = text('gateway');
  if (gateway !== undefined) {
    const g = parseIpv4(gateway);
    if (g === undefined) problems.push(`--gateway: "${gateway}" is not an IPv4 address`);
    else if (ip !== undefined && !inSubnet(g, ip.network, ip.prefixLength)) {
      problems.push(`--gateway: ${gateway} is not in ${formatIpv4(ip.network)}/${ip.prefixLength}, the subnet of --ip`);
    }
  }

  const ip6 = parseIp6List(values.ip6, problems);
  const gw6 = text('gw6');
  if (gw6 !== undefined) {
    const g = parseIpv6(gw6);
    if (g === undefined) problems.push(`--gw6: "${gw6}" is not an IPv6 address`);
    else if (isIpv6Multicast(g) || isIpv6Unspecified(g) || isIpv6Loopback(g)) problems.push(`--gw6: ${gw6} cannot be a next hop (multicast, unspecified or loopback)`);
    else if (ip6.some((a) => formatIpv6(a.address) === formatIpv6(g))) problems.push(`--gw6: ${gw6} is one of the stack's own addresses (--ip6)`);
    else if (!isIpv6LinkLocal(g) && !ip6.some((a) => ipv6InPrefix(g, 0, ipv6Network(a.address, a.prefixLength), a.prefixLength))) {
      problems.push(`--gw6: ${gw6} is neither link-local nor on the prefix of an --ip6 address`);
    }
  }
  const noSlaac = values['no-slaac'] === true;
  if (noSlaac && ip6.length === 0 && gw6 === undefined) problems.push('--no-slaac: IPv6 is off without --ip6 or --gw6');

  const mac = text('mac');
  if (mac !== undefined) {
    const bytes = parseMac(mac);
    if (bytes === undefined) problems.push(`--mac: "${mac}" is not a MAC address like 02:00:00:00:00:02`);
    else if ((bytes[0] & 1) !== 0 || bytes.every((b) => b === 0)) problems.push(`--mac: ${mac} is not a unicast address`);
  }

  const mtuText = text('mtu');
  let mtu: number | undefined;
  if (mtuText !== undefined) {
    mtu = /^[0-9]+$/.test(mtuText) ? Number(mtuText) : NaN;
    if (!(mtu >= 68 && mtu <= 65535)) problems.push(`--mtu: "${mtuText}" is not an integer from 68 to 65535`);
  }

  const netns = text('netns');
  if (netns !== undefined && !validNetnsName(netns)) {
    problems.push(`--netns: "${netns}" is not a valid namespace name (no "/", at most 127 bytes)`);
  }

  const hostIp = text('host-ip');
  if (hostIp !== undefined) {
    const h = parseIpv4Cidr(hostIp);
    if (h === undefined || h.prefixLength === 0) problems.push(`--host-ip: "${hostIp}" is not an IPv4 address with prefix, like 198.18.0.1/24`);
    else {
      if (netns === undefined) {
        problems.push('--host-ip: needs --netns (addresses are only ever set inside a network namespace)');
      }
      if (ip !== undefined && h.address === ip.address) problems.push(`--host-ip: ${hostIp} is the stack's own address (--ip)`);
      else if (ip !== undefined && !inSubnet(h.address, ip.network, ip.prefixLength)) {
        problems.push(`--host-ip: ${hostIp} is not in the subnet of --ip (${formatIpv4(ip.network)}/${ip.prefixLength})`);
      }
    }
  }

  const services = parseServices(text('services'), problems);

  const pcapText = text('pcap');
  let pcap: string | undefined;
  if (pcapText !== undefined) {
    pcap = resolve(pcapText);
    const dir = dirname(pcap);
    if (pcapText === '' || !existsSync(dir) || !statSync(dir).isDirectory()) problems.push(`--pcap: directory ${dir} does not exist`);
    else if (existsSync(pcap) && statSync(pcap).isDirectory()) problems.push(`--pcap: ${pcap} is a directory`);
  }

  const busyText = text('busy-poll');
  let busyPollUs: number | undefined;
  if (busyText !== undefined) {
    busyPollUs = /^[0-9]+$/.test(busyText) ? Number(busyText) : NaN;
    if (!(busyPollUs >= 0 && busyPollUs <= 1_000_000)) problems.push(`--busy-poll: "${busyText}" is not an integer from 0 to 1000000 (microseconds)`);
  }

  const sleepText = text('sleep');
  if (sleepText !== undefined && sleepText !== 'own' && sleepText !== 'libuv') problems.push(`--sleep: "${sleepText}" is not own or libuv`);
  const heapPages = parseHeapPages(text('heap-pages'), problems);

  if (problems.length > 0) return { kind: 'invalid', problems };
  return {
    kind: 'serve',
    args: {
      tap: tap!,
      ip: ipText!,
      ...(gateway === undefined ? {} : { gateway }),
      ip6: ip6.map((a) => `${formatIpv6(a.address)}/${a.prefixLength}`),
      ...(gw6 === undefined ? {} : { gw6: formatIpv6(parseIpv6(gw6)!) }),
      slaac: !noSlaac,
      ...(mac === undefined ? {} : { mac: mac.toLowerCase().replaceAll('-', ':') }),
      ...(mtu === undefined ? {} : { mtu }),
      ...(netns === undefined ? {} : { netns }),
      ...(hostIp === undefined ? {} : { hostIp }),
      services,
      ...(pcap === undefined ? {} : { pcap }),
      ...(busyPollUs === undefined || busyPollUs === 0 ? {} : { busyPollUs }),
      ...(sleepText === 'own' ? { sleep: 'own' as const } : {}),
      ...(heapPages === undefined ? {} : { heapPages }),
    },
  };
}

/** The `--ip6` values: host addresses with a prefix length, each once. */
function parseIp6List(raw: unknown, problems: string[]): { address: Ipv6Addr; prefixLength: number }[] {
  const list = Array.isArray(raw) ? raw.filter((v): v is string => typeof v === 'string') : [];
  const out: { address: Ipv6Addr; prefixLength: number }[] = [];
  for (const text of list) {
    const p = parseIpv6Prefix(text);
    if (p === undefined || p.prefixLength === 0) {
      problems.push(`--ip6: "${text}" is not an IPv6 address with prefix, like fd00:198:18::2/64`);
      continue;
    }
    const a = p.address;
    if (isIpv6Multicast(a) || isIpv6Unspecified(a) || isIpv6Loopback(a) || isIpv4MappedAt(a)) {
      problems.push(`--ip6: ${text} cannot be a host's own address (multicast, unspecified, loopback or IPv4-mapped)`);
      continue;
    }
    if (out.some((x) => formatIpv6(x.address) === formatIpv6(a))) {
      problems.push(`--ip6: ${formatIpv6(a)} is given twice`);
      continue;
    }
    out.push(p);
  }
  return out;
}

function parseServices(list: string | undefined, problems: string[]): ServiceSpec[] {
  if (list === undefined) return [];
  const out: ServiceSpec[] = [];
  for (const item of list.split(',')) {
    const [name, portText, ...extra] = item.trim().split(':');
    if (!(name in KNOWN_SERVICES) || extra.length > 0) {
      problems.push(`--services: unknown service "${item}" (known: ${Object.keys(KNOWN_SERVICES).join(', ')}; form name[:port])`);
      continue;
    }
    const service = name as ServiceName;
    const port = portText === undefined ? KNOWN_SERVICES[service] : /^[0-9]+$/.test(portText) ? Number(portText) : NaN;
    if (!(port >= 1 && port <= 65535)) {
      problems.push(`--services: "${item}" has a bad port (1..65535)`);
      continue;
    }
    const clash = out.find((s) => s.port === port && SERVICE_PROTOCOL[s.name] === SERVICE_PROTOCOL[service]);
    if (clash !== undefined) {
      problems.push(`--services: "${item.trim()}" wants ${SERVICE_PROTOCOL[service]} port ${port}, already taken by "${clash.name}:${clash.port}"`);
      continue;
    }
    out.push({ name: service, port });
  }
  return out;
}

/** What the kernel's dev_valid_name() accepts. */
export function validInterfaceName(name: string): boolean {
  return Buffer.byteLength(name) >= 1 && Buffer.byteLength(name) <= 15 && name !== '.' && name !== '..' && !/[/:\s]/.test(name);
}

/** A file name under /var/run/netns (the addon's own rule). */
export function validNetnsName(name: string): boolean {
  return Buffer.byteLength(name) >= 1 && Buffer.byteLength(name) < 128 && name !== '.' && name !== '..' && !name.includes('/');
}
