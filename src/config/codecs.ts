/**
 * Branded types and io-ts codecs for what users write in configuration and options: MAC and
 * IPv4 addresses, CIDRs, ports, MTUs, durations.
 *
 * Decoded addresses stay canonical strings with a brand (printable, JSON-able, comparable with
 * `===`); the helpers below turn them into the numbers and bytes the core works with. Codecs
 * are for configuration and user input only, never per packet.
 *
 * Plain-Node ESM: io-ts is imported as a namespace and fp-ts by its `lib/*.js` path, which both
 * resolve without a bundler or tsx.
 */
import * as t from 'io-ts';
import type { Ipv4Addr } from '../ipv4/address.js';
import { formatIpv4, parseIpv4, prefixMask } from '../ipv4/address.js';
import type { MacAddr } from '../mac.js';
import { formatMac, parseMac } from '../mac.js';
import { refinement } from './object-codec.js';

const identity = <A>(a: A): A => a;

// --- MAC address -------------------------------------------------------------------------------

export interface MacAddressBrand {
  readonly MacAddress: unique symbol;
}
/** `aa:bb:cc:dd:ee:ff`, lowercase, colon-separated. */
export type MacAddress = t.Branded<string, MacAddressBrand>;

/** Accepts `:` or `-` separators in any case; decodes to the canonical lowercase `:` form. */
export const MacAddress = refinement<MacAddress, string>(
  'MacAddress',
  'a MAC address like 02:00:00:00:00:02',
  (u) => {
    if (typeof u !== 'string') return undefined;
    const bytes = parseMac(u);
    return bytes === undefined ? undefined : (formatMac(bytes) as MacAddress);
  },
  identity,
);

/** The six bytes of a decoded MAC address (a fresh array each call). */
export function macAddressBytes(mac: MacAddress): MacAddr {
  // A MacAddress only exists after decoding, so parsing cannot fail here.
  return parseMac(mac) as MacAddr;
}

// --- IPv4 address ------------------------------------------------------------------------------

export interface Ipv4AddressBrand {
  readonly Ipv4Address: unique symbol;
}
/** Dotted quad, four decimal octets without leading zeros (`198.18.0.2`). */
export type Ipv4Address = t.Branded<string, Ipv4AddressBrand>;

export const Ipv4Address = refinement<Ipv4Address, string>(
  'Ipv4Address',
  'an IPv4 address like 198.18.0.1',
  (u) => (typeof u === 'string' && parseIpv4(u) !== undefined ? (u as Ipv4Address) : undefined),
  identity,
);

/** The address as the uint32 the core uses. */
export function ipv4AddressValue(address: Ipv4Address): Ipv4Addr {
  return parseIpv4(address) as Ipv4Addr;
}

// --- IPv4 CIDR ---------------------------------------------------------------------------------

export interface Ipv4CidrBrand {
  readonly Ipv4Cidr: unique symbol;
}
/** `address/prefixLength` (`198.18.0.2/24`); the address may have host bits set. */
export type Ipv4Cidr = t.Branded<string, Ipv4CidrBrand>;

/** The parts of a CIDR as numbers. */
export interface Ipv4CidrValue {
  /** The address as written (host bits kept: an interface address). */
  readonly address: Ipv4Addr;
  readonly prefixLength: number;
  readonly mask: number;
  /** `address & mask`. */
  readonly network: Ipv4Addr;
  /** The directed broadcast address of the subnet (`network | ~mask`). */
  readonly broadcast: Ipv4Addr;
}

/** Parses `a.b.c.d/n` (n 0..32, no leading zeros); undefined when malformed. */
export function parseIpv4Cidr(text: string): Ipv4CidrValue | undefined {
  const slash = text.indexOf('/');
  if (slash < 0) return undefined;
  const address = parseIpv4(text.slice(0, slash));
  const len = text.slice(slash + 1);
  if (address === undefined || !/^(0|[1-9][0-9]?)$/.test(len)) return undefined;
  const prefixLength = Number(len);
  if (prefixLength > 32) return undefined;
  const mask = prefixMask(prefixLength);
  const network = (address & mask) >>> 0;
  return { address, prefixLength, mask, network, broadcast: (network | ~mask) >>> 0 };
}

export const Ipv4Cidr = refinement<Ipv4Cidr, string>(
  'Ipv4Cidr',
  'an IPv4 CIDR like 198.18.0.2/24',
  (u) => (typeof u === 'string' && parseIpv4Cidr(u) !== undefined ? (u as Ipv4Cidr) : undefined),
  identity,
);

/** The numeric parts of a decoded CIDR. */
export function ipv4CidrValue(cidr: Ipv4Cidr): Ipv4CidrValue {
  return parseIpv4Cidr(cidr) as Ipv4CidrValue;
}

/** `198.18.0.0/24` from numbers (for logs and messages). */
export function formatIpv4Cidr(address: Ipv4Addr, prefixLength: number): string {
  return `${formatIpv4(address)}/${prefixLength}`;
}

// --- Numbers -----------------------------------------------------------------------------------

const isInt = (u: unknown, lo: number, hi: number): u is number =>
  typeof u === 'number' && Number.isInteger(u) && u >= lo && u <= hi;

export interface PortBrand {
  readonly Port: unique symbol;
}
/** A TCP/UDP port, 0..65535 (0 asks for an ephemeral port where binding allows it). */
export type Port = t.Branded<number, PortBrand>;
export const Port = refinement<Port, number>(
  'Port',
  'a port (an integer 0..65535)',
  (u) => (isInt(u, 0, 65535) ? (u as Port) : undefined),
  identity,
);

export interface MtuBrand {
  readonly Mtu: unique symbol;
}
/** A link MTU in bytes: 68 (RFC 791's minimum) ..65535. */
export type Mtu = t.Branded<number, MtuBrand>;
export const Mtu = refinement<Mtu, number>(
  'Mtu',
  'an MTU (an integer 68..65535)',
  (u) => (isInt(u, 68, 65535) ? (u as Mtu) : undefined),
  identity,
);

export interface InterfaceNameBrand {
  readonly InterfaceName: unique symbol;
}
/** The stack's own name for an interface (`eth0`): 1..32 of letters, digits, `_ . : -`. */
export type InterfaceName = t.Branded<string, InterfaceNameBrand>;
export const InterfaceName = refinement<InterfaceName, string>(
  'InterfaceName',
  'an interface name (1 to 32 letters, digits, "_", ".", ":" or "-")',
  (u) => (typeof u === 'string' && /^[A-Za-z0-9_.:-]{1,32}$/.test(u) ? (u as InterfaceName) : undefined),
  identity,
);

/** A duration in milliseconds, finite and > 0. */
export const DurationMs = refinement<number, number>(
  'DurationMs',
  'a duration in ms (a finite number > 0)',
  (u) => (typeof u === 'number' && Number.isFinite(u) && u > 0 ? u : undefined),
  identity,
);

/** A duration in milliseconds, finite and >= 0. */
export const NonNegativeDurationMs = refinement<number, number>(
  'NonNegativeDurationMs',
  'a duration in ms (a finite number >= 0)',
  (u) => (typeof u === 'number' && Number.isFinite(u) && u >= 0 ? u : undefined),
  identity,
);

/** An integer >= 1 (safe integer range). */
export const PositiveInt = refinement<number, number>(
  'PositiveInt',
  'an integer >= 1',
  (u) => (isInt(u, 1, Number.MAX_SAFE_INTEGER) ? u : undefined),
  identity,
);

/** An integer >= 0 (safe integer range). */
export const NonNegativeInt = refinement<number, number>(
  'NonNegativeInt',
  'an integer >= 0',
  (u) => (isInt(u, 0, Number.MAX_SAFE_INTEGER) ? u : undefined),
  identity,
);

/** A finite number > 0 (a rate). */
export const PositiveNumber = refinement<number, number>(
  'PositiveNumber',
  'a finite number > 0',
  (u) => (typeof u === 'number' && Number.isFinite(u) && u > 0 ? u : undefined),
  identity,
);

/** A finite number >= 0 (a rate that may be zero). */
export const NonNegativeNumber = refinement<number, number>(
  'NonNegativeNumber',
  'a finite number >= 0',
  (u) => (typeof u === 'number' && Number.isFinite(u) && u >= 0 ? u : undefined),
  identity,
);

/** A power of two, 1..2^30 (hash table sizes). */
export const PowerOfTwo = refinement<number, number>(
  'PowerOfTwo',
  'a power of two (1, 2, 4, ... 2^30)',
  (u) => (isInt(u, 1, 2 ** 30) && (u & (u - 1)) === 0 ? u : undefined),
  identity,
);

/** An IPv4 TTL, 1..255. */
export const Ttl = refinement<number, number>(
  'Ttl',
  'a TTL (an integer 1..255)',
  (u) => (isInt(u, 1, 255) ? u : undefined),
  identity,
);

export const Bool = refinement<boolean, boolean>(
  'Bool',
  'true or false',
  (u) => (typeof u === 'boolean' ? u : undefined),
  identity,
);

/** An inclusive port range `[lo, hi]` with 1 <= lo <= hi <= 65535 (ephemeral ports). */
export type PortRange = readonly [number, number];
const isPortRange = (u: unknown): u is PortRange =>
  Array.isArray(u) && u.length === 2 && isInt(u[0], 1, 65535) && isInt(u[1], u[0], 65535);
/** Decodes to a frozen copy, so later changes to the user's array change nothing. */
export const PortRange = refinement<PortRange, PortRange>(
  'PortRange',
  'a port range [lo, hi] with 1 <= lo <= hi <= 65535',
  (u) => (isPortRange(u) ? (Object.freeze([u[0], u[1]]) as PortRange) : undefined),
  identity,
  isPortRange,
);
