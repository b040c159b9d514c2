/**
 * IPv6 in the stack configuration: the `ipv6` list of an interface (`['fd00:198:18::2/64']`)
 * and the stack-wide `ipv6` section (link-local identifiers, hop limit, reassembly, the
 * neighbour cache, the ICMPv6 error rate). Codecs check each field; `checkIpv6Addresses` the
 * rules a codec cannot express (an address that cannot be a host's own, duplicates); and
 * `resolveIpv6Config` fills the defaults.
 *
 * IPv6 is on when any interface lists an IPv6 address or `ipv6.enabled` is true; otherwise a
 * stack is IPv4-only, as before (IPv6 frames counted as unknown EtherType).
 */
import * as t from 'io-ts';
import {
  formatIpv6,
  ipv6Network,
  isIpv4MappedAt,
  isIpv6Loopback,
  isIpv6Multicast,
  isIpv6Unspecified,
  parseIpv6Prefix,
  type Ipv6Addr,
} from '../ipv6/address.js';
import { IPV6_NEIGHBOR_CACHE_DEFAULTS, type Ipv6NeighborCacheConfig } from '../ipv6/neighbor-cache.js';
import { IPV6_REASSEMBLY_DEFAULTS } from '../ipv6/config.js';
import { ICMP_DEFAULTS, type IcmpConfig, type ReassemblyConfig } from '../ipv4/config.js';
import { Bool, DurationMs, NonNegativeInt, NonNegativeNumber, PositiveInt, Ttl } from './codecs.js';
import { closedObject, refinement } from './object-codec.js';
import { ReassemblyOptions } from './protocol-config.js';
import type { ConfigProblem } from './problems.js';

const identity = <A>(a: A): A => a;

export interface Ipv6CidrBrand {
  readonly Ipv6Cidr: unique symbol;
}
/** `address/prefixLength` (`fd00:198:18::2/64`), prefix length 0..128. */
export type Ipv6Cidr = t.Branded<string, Ipv6CidrBrand>;

export const Ipv6Cidr = refinement<Ipv6Cidr, string>(
  'Ipv6Cidr',
  'an IPv6 address with its prefix length like fd00:198:18::2/64',
  (u) => (typeof u === 'string' && parseIpv6Prefix(u) !== undefined ? (u as Ipv6Cidr) : undefined),
  identity,
);

/** How the link-local address's interface identifier is made. */
export type LinkLocalMode = 'stable' | 'eui64';

const LinkLocalModeCodec = refinement<LinkLocalMode, string>(
  'LinkLocalMode',
  '"stable" (RFC 7217) or "eui64" (from the MAC)',
  (u) => (u === 'stable' || u === 'eui64' ? u : undefined),
  identity,
);

/** 32 hex digits: the 16-byte RFC 7217 secret. */
const StableSecret = refinement<string, string>(
  'StableSecret',
  'a secret of 32 hex digits',
  (u) => (typeof u === 'string' && /^[0-9a-fA-F]{32}$/.test(u) ? u : undefined),
  identity,
);

export const Ipv6NeighborOptions = closedObject('Ipv6NeighborOptions', 'IPv6 neighbour cache options (an object)', {}, {
  reachableTimeMs: DurationMs,
  retransTimerMs: DurationMs,
  delayFirstProbeMs: DurationMs,
  maxMulticastSolicit: PositiveInt,
  maxUnicastSolicit: PositiveInt,
  staleTimeMs: DurationMs,
  maxQueuePerDestination: PositiveInt,
  maxQueuedPackets: PositiveInt,
  maxEntries: PositiveInt,
  solicitRatePerSecond: NonNegativeNumber,
  solicitBurst: NonNegativeInt,
});

export const Icmpv6Options = closedObject('Icmpv6Options', 'ICMPv6 options (an object)', {}, {
  errorRatePerSecond: NonNegativeNumber,
  errorBurst: NonNegativeInt,
});

/** DupAddrDetectTransmits: 0 (no DAD) to 10 (RFC 4862 5.1 sets no bound; more only delays addresses). */
const DadTransmits = refinement<number, number>(
  'DadTransmits',
  'a whole number from 0 to 10',
  (u) => (typeof u === 'number' && Number.isInteger(u) && u >= 0 && u <= 10 ? u : undefined),
  identity,
);

export const Ipv6Options = closedObject('Ipv6Options', 'IPv6 options (an object)', {}, {
  enabled: Bool,
  linkLocal: LinkLocalModeCodec,
  stableSecret: StableSecret,
  slaac: Bool,
  acceptRa: Bool,
  acceptRedirects: Bool,
  dadTransmits: DadTransmits,
  hopLimit: Ttl,
  reassembly: ReassemblyOptions,
  neighbors: Ipv6NeighborOptions,
  icmp: Icmpv6Options,
});

/** The `ipv6` section after defaults. */
export interface Ipv6StackConfig {
  /** True when any interface has an IPv6 address or `ipv6.enabled` said so. */
  readonly enabled: boolean;
  /** Default 'stable' (RFC 7217; RFC 8064 recommends it over the MAC-derived EUI-64). */
  readonly linkLocal: LinkLocalMode;
  /** The 16-byte RFC 7217 secret; undefined: random per stack (addresses then change per run). */
  readonly stableSecret: Uint8Array | undefined;
  /** Form addresses from router advertisements' autonomous prefixes (RFC 4862). Default true. */
  readonly slaac: boolean;
  /** Learn default routers, on-link prefixes, timers and the MTU from RAs (and solicit them). Default true. */
  readonly acceptRa: boolean;
  /** Honour redirects (RFC 4861 8.3) with a host route; else ignore and count them. Default false. */
  readonly acceptRedirects: boolean;
  /** DupAddrDetectTransmits (RFC 4862 5.1): NS per address before it is used; 0 disables DAD. Default 1. */
  readonly dadTransmits: number;
  /** Hop limit of packets we originate. Default 64. */
  readonly hopLimit: number;
  readonly reassembly: Readonly<ReassemblyConfig>;
  readonly neighbors: Readonly<Ipv6NeighborCacheConfig>;
  /** The ICMPv6 error rate limiter, its own bucket (an IPv4 flood cannot silence IPv6 errors). */
  readonly icmp: Readonly<IcmpConfig>;
}

/** An interface's IPv6 address after decoding. */
export interface InterfaceIpv6Address {
  readonly address: Ipv6Addr;
  readonly prefixLength: number;
  /** As the user wrote it, for logs. */
  readonly text: Ipv6Cidr;
}

export function ipv6CidrValue(text: Ipv6Cidr): InterfaceIpv6Address {
  const p = parseIpv6Prefix(text) as { address: Ipv6Addr; prefixLength: number };
  return Object.freeze({ address: p.address, prefixLength: p.prefixLength, text });
}

/** Why an IPv6 address cannot be a host's own unicast address, or undefined when it can. */
function badIpv6HostAddress(a: Ipv6Addr): string | undefined {
  if (isIpv6Unspecified(a)) return 'is the unspecified address ::';
  if (isIpv6Loopback(a)) return 'is the loopback address ::1';
  if (isIpv6Multicast(a)) return 'is a multicast address';
  if (isIpv4MappedAt(a)) return 'is an IPv4-mapped address (configure it under ipv4)';
  return undefined;
}

/**
 * Checks every interface's `ipv6` list (only the entries that parse: the codec reports the
 * others): addresses a host cannot own, a prefix length of 0, the same address twice.
 */
export function checkIpv6Addresses(rawInterfaces: unknown, problems: ConfigProblem[]): void {
  if (!Array.isArray(rawInterfaces)) return;
  const seen = new Map<string, string>();
  rawInterfaces.forEach((rawIface, i) => {
    const list = rawIface !== null && typeof rawIface === 'object' ? (rawIface as { ipv6?: unknown }).ipv6 : undefined;
    if (!Array.isArray(list)) return;
    list.forEach((text, j) => {
      const p = typeof text === 'string' ? parseIpv6Prefix(text) : undefined;
      if (p === undefined) return;
      const path = `interfaces.${i}.ipv6.${j}`;
      const bad = badIpv6HostAddress(p.address);
      if (bad !== undefined) {
        problems.push({ path, message: `"${text as string}" ${bad}` });
        return;
      }
      if (p.prefixLength === 0) {
        problems.push({ path, message: `"${text as string}" has prefix length 0 (the whole address space cannot be on-link)` });
        return;
      }
      const key = formatIpv6(p.address);
      const first = seen.get(key);
      if (first !== undefined) problems.push({ path, message: `${key} is already assigned at ${first}` });
      else seen.set(key, path);
    });
  });
}

/** Options that contradict `enabled: false`: each is a problem of its own. */
export function checkIpv6Switches(rawIpv6: unknown, problems: ConfigProblem[]): void {
  if (rawIpv6 === null || typeof rawIpv6 !== 'object') return;
  const o = rawIpv6 as Record<string, unknown>;
  if (o.enabled !== false) return;
  if (o.slaac === true) problems.push({ path: 'ipv6.slaac', message: 'is true, yet ipv6.enabled is false' });
}

/** Hex text to bytes (the codec already checked the form). */
function hexBytes(text: string): Uint8Array {
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(text.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/**
 * The `ipv6` section with defaults; `anyAddress`: some interface lists an IPv6 address or a
 * route is IPv6. Without either, IPv6 is on only when `enabled` or `slaac` says so explicitly.
 */
export function resolveIpv6Config(options: t.TypeOf<typeof Ipv6Options> | undefined, anyAddress: boolean): Ipv6StackConfig {
  const o = options ?? {};
  return Object.freeze({
    enabled: o.enabled ?? (anyAddress || o.slaac === true),
    linkLocal: o.linkLocal ?? 'stable',
    stableSecret: o.stableSecret === undefined ? undefined : hexBytes(o.stableSecret),
    slaac: o.slaac ?? true,
    acceptRa: o.acceptRa ?? true,
    acceptRedirects: o.acceptRedirects ?? false,
    dadTransmits: o.dadTransmits ?? 1,
    hopLimit: o.hopLimit ?? 64,
    reassembly: Object.freeze({ ...IPV6_REASSEMBLY_DEFAULTS, ...o.reassembly }),
    neighbors: Object.freeze({ ...IPV6_NEIGHBOR_CACHE_DEFAULTS, ...o.neighbors }),
    icmp: Object.freeze({ ...ICMP_DEFAULTS, ...o.icmp }),
  });
}

/** The network part of an interface address (for on-link checks). */
export function ipv6NetworkOf(a: InterfaceIpv6Address): Ipv6Addr {
  return ipv6Network(a.address, a.prefixLength);
}
