/**
 * The stack configuration: its codec, and `decodeStackConfig`, which turns what the user wrote
 * into numbers the cores use, or throws one ConfigError that names every bad path.
 *
 * ```ts
 * decodeStackConfig({
 *   interfaces: [{ name: 'eth0', link, mac: '02:00:00:00:00:02', ipv4: ['198.18.0.2/24'] }],
 *   routes: [{ destination: '0.0.0.0/0', gateway: '198.18.0.1' }],
 *   tcp: { ephemeralPortRange: [40000, 40999] },
 * });
 * ```
 *
 * Two passes, both always run so their problems are reported together: the io-ts codec (shape,
 * types, unknown keys), then the checks a codec cannot express (duplicate names and addresses,
 * gateways off every subnet, ranges relative to each other). The second pass reads the raw
 * input defensively and only judges the parts that decoded.
 */
import * as t from 'io-ts';
import { isLeft } from 'fp-ts/lib/Either.js';
import type { Ipv4Addr } from '../ipv4/address.js';
import { IPV4_ANY, IPV4_BROADCAST, formatIpv4, isMulticast, parseIpv4 } from '../ipv4/address.js';
import type { MacAddr } from '../mac.js';
import { parseMac } from '../mac.js';
import {
  InterfaceName,
  Ipv4Address,
  Ipv4Cidr,
  MacAddress,
  Mtu,
  formatIpv4Cidr,
  ipv4AddressValue,
  ipv4CidrValue,
  macAddressBytes,
  parseIpv4Cidr,
  type Ipv4CidrValue,
} from './codecs.js';
import { describeValue } from './describe.js';
import { closedObject, describedAs, listOf, refinement, type ClosedObjectCodec } from './object-codec.js';
import { ConfigError, problemsFromErrors, type ConfigProblem } from './problems.js';
import {
  ArpOptions,
  IcmpOptions,
  Ipv4Options,
  TcpOptions,
  UdpOptions,
  resolveProtocolConfigs,
  type ProtocolConfigs,
  type ProtocolOptions,
} from './protocol-config.js';
import {
  Ipv6Cidr, Ipv6Options, checkIpv6Addresses, checkIpv6Switches, ipv6CidrValue, resolveIpv6Config, type InterfaceIpv6Address, type Ipv6StackConfig,
} from './ipv6-config.js';
import {
  formatIpv6, ipv6Equals, ipv6InPrefix, ipv6Network, isIpv6LinkLocal, isIpv6Loopback, isIpv6Multicast, isIpv6Unspecified, parseIpv6,
  parseIpv6Prefix, type Ipv6Addr,
} from '../ipv6/address.js';

// --- The link, opaque ---------------------------------------------------------------------------

/**
 * What the configuration needs of a link: the structural part of streams' `Link`. The core may
 * not import streams/, so it checks the shape and hands the object through untouched.
 */
export interface LinkLike {
  readonly name?: string;
  readonly mtu?: number;
  readonly mac?: Uint8Array;
  readonly frames$: { subscribe(...args: never[]): unknown };
  send(frame: Uint8Array): void;
}

const isLinkLike = (u: unknown): u is LinkLike => {
  if (u === null || typeof u !== 'object') return false;
  const link = u as { frames$?: unknown; send?: unknown };
  const frames = link.frames$ as { subscribe?: unknown } | null | undefined;
  return typeof link.send === 'function' && typeof frames === 'object' && frames !== null && typeof frames.subscribe === 'function';
};

/** Checks that the value looks like a Link (frames$ with subscribe, and send) and passes it on. */
export const LinkCodec = describedAs(
  new t.Type<LinkLike, LinkLike, unknown>(
    'Link',
    isLinkLike,
    (u, c) =>
      isLinkLike(u)
        ? t.success(u)
        : t.failure(u, c, `${u !== null && typeof u === 'object' ? 'this object' : describeValue(u)} is not a link (an object with frames$ and send(frame), e.g. from tapLink() or memoryWire())`),
    (a) => a,
  ),
  'a link (an object with frames$ and send(frame))',
);

// --- Codecs -------------------------------------------------------------------------------------

export const InterfaceConfigCodec = closedObject(
  'InterfaceConfig',
  'an interface (an object)',
  { name: InterfaceName, link: LinkCodec, ipv4: listOf(Ipv4Cidr, 'a list of IPv4 CIDRs like ["198.18.0.2/24"]') },
  { mac: MacAddress, mtu: Mtu, ipv6: listOf(Ipv6Cidr, 'a list of IPv6 addresses with prefix lengths like ["fd00:198:18::2/64"]') },
);

/** A route's destination: an IPv4 CIDR, or an IPv6 prefix (`::/0`, `2001:db8::/32`). */
const RouteDestination = refinement<string, string>(
  'RouteDestination',
  'an IPv4 CIDR like 0.0.0.0/0 or an IPv6 prefix like ::/0',
  (u) => (typeof u === 'string' && (parseIpv4Cidr(u) !== undefined || parseIpv6Prefix(u) !== undefined) ? u : undefined),
  (a) => a,
);

/** A route's gateway: an IPv4 or IPv6 address. */
const RouteGateway = refinement<string, string>(
  'RouteGateway',
  'an IPv4 address like 198.18.0.1 or an IPv6 address like fe80::1',
  (u) => (typeof u === 'string' && (parseIpv4(u) !== undefined || parseIpv6(u) !== undefined) ? u : undefined),
  (a) => a,
);

export const RouteConfigCodec = closedObject(
  'RouteConfig',
  'a route (an object)',
  { destination: RouteDestination },
  { gateway: RouteGateway, interface: InterfaceName },
);

export const StackConfigCodec = closedObject(
  'StackConfig',
  'a stack configuration (an object)',
  { interfaces: listOf(InterfaceConfigCodec, 'a list of interfaces') },
  {
    routes: listOf(RouteConfigCodec, 'a list of routes'),
    arp: ArpOptions,
    ipv4: Ipv4Options,
    icmp: IcmpOptions,
    udp: UdpOptions,
    tcp: TcpOptions,
    ipv6: Ipv6Options,
  },
);

// --- What the user writes -----------------------------------------------------------------------

/** One interface as the user writes it. */
export interface InterfaceConfigInput<L extends LinkLike = LinkLike> {
  /** The stack's name for it, unique (`eth0`). */
  readonly name: string;
  /** Where its frames come and go (streams' `Link`). */
  readonly link: L;
  /** `aa:bb:cc:dd:ee:ff`, unicast. Default: the link's own MAC, else a random local one. */
  readonly mac?: string;
  /** IP MTU. Default: the link's `mtu`, else 1500. Not above the link's. */
  readonly mtu?: number;
  /** The interface's addresses with their prefix lengths (`198.18.0.2/24`); may be empty. */
  readonly ipv4: readonly string[];
  /**
   * Static IPv6 addresses with their prefix lengths (`fd00:198:18::2/64`); the prefix is
   * on-link. A link-local address (fe80::/64) is added to every interface when IPv6 is on.
   */
  readonly ipv6?: readonly string[];
}

/**
 * One route as the user writes it; it needs a gateway, an interface, or both. IPv4 or IPv6:
 * the destination says which, and the gateway must be of the same family.
 */
export interface RouteConfigInput {
  /** The network it reaches (`0.0.0.0/0`, `::/0` for the default routes); no host bits set. */
  readonly destination: string;
  /**
   * The next hop; must lie on a subnet of the route's interface (or of some interface). An IPv6
   * gateway may be link-local (`fe80::1`, what routers advertise from): then `interface` is
   * required, since every interface has fe80::/64.
   */
  readonly gateway?: string;
  /** The interface it leaves by. Default: the interface whose subnet holds the gateway. */
  readonly interface?: string;
}

/**
 * The configuration `createStack` takes. The protocol sections are optional and every field in
 * them too; see src/ipv4/config.ts and src/tcp/config.ts for the fields and their defaults.
 */
export interface StackConfigInput<L extends LinkLike = LinkLike> {
  readonly interfaces: readonly InterfaceConfigInput<L>[];
  readonly routes?: readonly RouteConfigInput[];
  readonly arp?: t.OutputOf<typeof ArpOptions>;
  readonly ipv4?: t.OutputOf<typeof Ipv4Options>;
  readonly icmp?: t.OutputOf<typeof IcmpOptions>;
  readonly udp?: t.OutputOf<typeof UdpOptions>;
  readonly tcp?: t.OutputOf<typeof TcpOptions>;
  /** IPv6 options (link-local mode, hop limit, neighbour cache, reassembly, ICMPv6 errors). */
  readonly ipv6?: t.OutputOf<typeof Ipv6Options>;
}

// --- What the stack gets ------------------------------------------------------------------------

/** An interface address: the CIDR as numbers plus its text. */
export interface InterfaceAddress extends Ipv4CidrValue {
  /** As the user wrote it (`198.18.0.2/24`), for logs. */
  readonly text: Ipv4Cidr;
}

export interface DecodedInterface<L extends LinkLike = LinkLike> {
  readonly name: InterfaceName;
  readonly link: L;
  /** The configured MAC as bytes; undefined when not configured (use the link's or a random one). */
  readonly mac: MacAddr | undefined;
  /** The configured MTU, else the link's, else 1500 (`ipv4.defaultMtu`). */
  readonly mtu: number;
  readonly ipv4: readonly InterfaceAddress[];
  /** Static IPv6 addresses as configured (the link-local one is added by the stack). */
  readonly ipv6: readonly InterfaceIpv6Address[];
}

export interface DecodedRoute {
  /** Network address of the destination (host bits are zero). */
  readonly destination: Ipv4Addr;
  readonly prefixLength: number;
  /** Next hop; undefined for a route to hosts directly on the link. */
  readonly gateway: Ipv4Addr | undefined;
  /** The interface the route leaves by: as configured, or the one whose subnet holds the gateway. */
  readonly interface: InterfaceName;
}

/** An IPv6 route of the configuration. */
export interface DecodedIpv6Route {
  /** The prefix (host bits zero). */
  readonly destination: Ipv6Addr;
  readonly prefixLength: number;
  /** Next hop (link-local or on one of the interface's prefixes); undefined: on-link. */
  readonly gateway: Ipv6Addr | undefined;
  readonly interface: InterfaceName;
}

export interface DecodedStackConfig<L extends LinkLike = LinkLike> extends ProtocolConfigs {
  readonly interfaces: readonly DecodedInterface<L>[];
  /** The configured IPv4 routes only; the routes to each interface's own subnets are not added here. */
  readonly routes: readonly DecodedRoute[];
  /** The configured IPv6 routes (same `routes` list in the input). */
  readonly routes6: readonly DecodedIpv6Route[];
  readonly ipv6: Ipv6StackConfig;
}

// --- Decoding -----------------------------------------------------------------------------------

/**
 * Validates `input` and resolves it: numbers and bytes instead of strings, defaults filled in,
 * each route's interface resolved.
 *
 * `L` only names the link type the caller passes in; the decoder checks the link's shape
 * (LinkLike) and returns the very same object.
 *
 * @throws ConfigError (code ERR_INVALID_CONFIG) whose message names every bad path, e.g.
 *   `interfaces.0.ipv4.1: "198.18.0.300/24" is not an IPv4 CIDR like 198.18.0.2/24; routes.0.gateway: ...`,
 *   and whose `problems` lists them as `{ path, message }`.
 */
export function decodeStackConfig<L extends LinkLike = LinkLike>(input: unknown): DecodedStackConfig<L> {
  const result = StackConfigCodec.decode(input);
  const problems: ConfigProblem[] = isLeft(result) ? problemsFromErrors(result.left) : [];

  const raw = asRecord(input);
  const interfaces = checkInterfaces(raw?.interfaces, problems);
  const routes = checkRoutes(raw?.routes, interfaces, problems);
  const protocols = resolveProtocolConfigs(decodedSections(raw), problems);
  checkIpv6Addresses(raw?.interfaces, problems);
  checkIpv6Switches(raw?.ipv6, problems);
  const anyIpv6 = Array.isArray(raw?.interfaces) && raw.interfaces.some((i) => Array.isArray(asRecord(i)?.ipv6) && (asRecord(i)?.ipv6 as unknown[]).length > 0);
  const anyIpv6Route = Array.isArray(raw?.routes) && raw.routes.some((r) => isIpv6Text(asRecord(r)?.destination));
  if (anyIpv6 && asRecord(raw?.ipv6)?.enabled === false) {
    problems.push({ path: 'ipv6.enabled', message: 'is false, yet interfaces list IPv6 addresses' });
  } else if (anyIpv6Route && asRecord(raw?.ipv6)?.enabled === false) {
    problems.push({ path: 'ipv6.enabled', message: 'is false, yet routes list IPv6 destinations' });
  }

  if (problems.length > 0 || isLeft(result)) throw new ConfigError(sortProblems(problems));

  const defaultMtu = protocols.ipv4.defaultMtu;
  const decoded: DecodedStackConfig<L> = {
    ...protocols,
    ipv6: resolveIpv6Config(result.right.ipv6, anyIpv6 || anyIpv6Route),
    interfaces: Object.freeze(
      result.right.interfaces.map((i) =>
        Object.freeze({
          name: i.name,
          link: i.link as L,
          mac: i.mac === undefined ? undefined : macAddressBytes(i.mac),
          mtu: i.mtu ?? (typeof i.link.mtu === 'number' ? i.link.mtu : defaultMtu),
          ipv4: Object.freeze(i.ipv4.map((text) => Object.freeze({ ...ipv4CidrValue(text), text }))),
          ipv6: Object.freeze((i.ipv6 ?? []).map(ipv6CidrValue)),
        }),
      ),
    ),
    routes: Object.freeze(
      (result.right.routes ?? []).flatMap((r, index) => {
        if (isIpv6Text(r.destination)) return [];
        const dest = ipv4CidrValue(r.destination as Ipv4Cidr);
        return [Object.freeze({
          destination: dest.network,
          prefixLength: dest.prefixLength,
          gateway: r.gateway === undefined ? undefined : ipv4AddressValue(r.gateway as Ipv4Address),
          // checkRoutes resolved every route or reported a problem, so this is defined here.
          interface: routes[index] as InterfaceName,
        })];
      }),
    ),
    routes6: Object.freeze(
      (result.right.routes ?? []).flatMap((r, index) => {
        if (!isIpv6Text(r.destination)) return [];
        const dest = parseIpv6Prefix(r.destination) as { address: Ipv6Addr; prefixLength: number };
        return [Object.freeze({
          destination: dest.address,
          prefixLength: dest.prefixLength,
          gateway: r.gateway === undefined ? undefined : parseIpv6(r.gateway),
          interface: routes[index] as InterfaceName,
        })];
      }),
    ),
  };
  return Object.freeze(decoded);
}

// --- Checks the codec cannot express ------------------------------------------------------------

/** What the checks know of one interface: only the parts that decoded. */
interface InterfaceFacts {
  readonly name: string | undefined;
  readonly subnets: readonly Ipv4CidrValue[];
  /** IPv6 addresses that parsed, with their prefix lengths. */
  readonly subnets6: readonly { readonly address: Ipv6Addr; readonly prefixLength: number }[];
}

function checkInterfaces(rawList: unknown, problems: ConfigProblem[]): InterfaceFacts[] {
  if (!Array.isArray(rawList)) return [];
  if (rawList.length === 0) {
    problems.push({ path: 'interfaces', message: 'must list at least one interface' });
  }
  const facts: InterfaceFacts[] = [];
  const nameAt = new Map<string, number>();
  const addressAt = new Map<Ipv4Addr, string>();

  rawList.forEach((rawIface, i) => {
    const iface = asRecord(rawIface);
    const at = `interfaces.${i}`;
    const name = InterfaceName.is(iface?.name) ? iface.name : undefined;
    if (name !== undefined) {
      const first = nameAt.get(name);
      if (first !== undefined) problems.push({ path: `${at}.name`, message: `"${name}" is already the name of interfaces.${first}` });
      else nameAt.set(name, i);
    }

    const macText = typeof iface?.mac === 'string' ? iface.mac : undefined;
    const mac = macText === undefined ? undefined : parseMac(macText);
    if (mac !== undefined) {
      if ((mac[0] & 1) === 1) problems.push({ path: `${at}.mac`, message: `"${macText}" is a multicast address; an interface needs a unicast MAC` });
      else if (mac.every((b) => b === 0)) problems.push({ path: `${at}.mac`, message: `"${macText}" is the zero address; an interface needs a unicast MAC` });
    }

    const link = asRecord(iface?.link);
    if (Mtu.is(iface?.mtu) && typeof link?.mtu === 'number' && iface.mtu > link.mtu) {
      problems.push({ path: `${at}.mtu`, message: `${iface.mtu} exceeds the link's MTU ${link.mtu}` });
    }

    const subnets: Ipv4CidrValue[] = [];
    const list = Array.isArray(iface?.ipv4) ? (iface.ipv4 as unknown[]) : [];
    list.forEach((text, j) => {
      const cidr = typeof text === 'string' ? parseIpv4Cidr(text) : undefined;
      if (cidr === undefined) return;
      const path = `${at}.ipv4.${j}`;
      const bad = badHostAddress(cidr);
      if (bad !== undefined) {
        problems.push({ path, message: `"${text as string}" ${bad}` });
        return;
      }
      const first = addressAt.get(cidr.address);
      if (first !== undefined) problems.push({ path, message: `${formatIpv4(cidr.address)} is already assigned at ${first}` });
      else addressAt.set(cidr.address, path);
      subnets.push(cidr);
    });
    const list6 = Array.isArray(iface?.ipv6) ? (iface.ipv6 as unknown[]) : [];
    const subnets6 = list6.flatMap((text) => {
      const p = typeof text === 'string' ? parseIpv6Prefix(text) : undefined;
      return p === undefined || p.prefixLength === 0 ? [] : [p];
    });
    facts.push({ name, subnets, subnets6 });
  });
  return facts;
}

/** Why an address cannot be a host's own, or undefined when it can. */
function badHostAddress(cidr: Ipv4CidrValue): string | undefined {
  const { address, prefixLength } = cidr;
  if (address === IPV4_ANY) return 'is the unspecified address 0.0.0.0';
  if (address === IPV4_BROADCAST) return 'is the limited broadcast address';
  if (isMulticast(address)) return 'is a multicast address';
  // RFC 1122 3.2.1.3: host number 0 and all-ones name the network and its broadcast; /31
  // (RFC 3021) and /32 have no such addresses.
  if (prefixLength <= 30) {
    if (address === cidr.network) return `is the network address of ${formatIpv4Cidr(cidr.network, prefixLength)}`;
    if (address === cidr.broadcast) return `is the broadcast address of ${formatIpv4Cidr(cidr.network, prefixLength)}`;
  }
  return undefined;
}

/** Checks the routes and returns each one's interface name (undefined where unresolved). */
function checkRoutes(rawList: unknown, interfaces: readonly InterfaceFacts[], problems: ConfigProblem[]): (string | undefined)[] {
  if (!Array.isArray(rawList)) return [];
  const destinationAt = new Map<string, number>();
  const ourAddresses = new Set(interfaces.flatMap((i) => i.subnets.map((s) => s.address)));

  return rawList.map((rawRoute, i) => {
    const route = asRecord(rawRoute);
    const at = `routes.${i}`;

    const destText = typeof route?.destination === 'string' ? route.destination : undefined;
    if (isIpv6Text(destText)) return checkIpv6Route(route, at, destText as string, interfaces, destinationAt, problems);
    const dest = destText === undefined ? undefined : parseIpv4Cidr(destText);
    if (dest !== undefined) {
      if (dest.address !== dest.network) {
        problems.push({
          path: `${at}.destination`,
          message: `"${destText}" has host bits set (did you mean ${formatIpv4Cidr(dest.network, dest.prefixLength)}?)`,
        });
      } else {
        const key = formatIpv4Cidr(dest.network, dest.prefixLength);
        const first = destinationAt.get(key);
        if (first !== undefined) problems.push({ path: `${at}.destination`, message: `${key} is already the destination of routes.${first}` });
        else destinationAt.set(key, i);
      }
    }

    const hasGateway = route?.gateway !== undefined;
    const hasInterface = route?.interface !== undefined;
    if (route !== undefined && !hasGateway && !hasInterface) {
      problems.push({ path: at, message: 'needs a gateway, an interface, or both' });
      return undefined;
    }

    const ifaceName = typeof route?.interface === 'string' ? route.interface : undefined;
    let iface: InterfaceFacts | undefined;
    if (ifaceName !== undefined && InterfaceName.is(ifaceName)) {
      iface = interfaces.find((f) => f.name === ifaceName);
      if (iface === undefined) {
        const names = interfaces.flatMap((f) => (f.name === undefined ? [] : [`"${f.name}"`]));
        problems.push({ path: `${at}.interface`, message: `"${ifaceName}" is not an interface (there ${names.length === 1 ? 'is' : 'are'} ${names.join(', ') || 'none'})` });
        return undefined;
      }
    }

    if (isIpv6Text(route?.gateway) && dest !== undefined) {
      problems.push({ path: `${at}.gateway`, message: `${route?.gateway as string} is an IPv6 address; the destination ${destText as string} is IPv4` });
      return undefined;
    }
    const gateway = typeof route?.gateway === 'string' ? parseIpv4(route.gateway) : undefined;
    if (gateway === undefined) return hasGateway ? undefined : iface?.name;

    if (ourAddresses.has(gateway)) {
      problems.push({ path: `${at}.gateway`, message: `${formatIpv4(gateway)} is one of this stack's own addresses` });
      return undefined;
    }
    const candidates = iface === undefined ? interfaces : [iface];
    const owner = longestMatch(candidates, gateway);
    if (owner === undefined) {
      const where = iface === undefined ? 'any interface' : `interface "${iface.name}"`;
      const subnets = [...new Set(candidates.flatMap((f) => f.subnets.map((s) => formatIpv4Cidr(s.network, s.prefixLength))))];
      problems.push({
        path: `${at}.gateway`,
        message: `${formatIpv4(gateway)} is not on a subnet of ${where} (${subnets.length > 0 ? subnets.join(', ') : 'no addresses'})`,
      });
      return undefined;
    }
    return owner.name;
  });
}

/** True for text that reads as IPv6 (an address or prefix with a colon). */
function isIpv6Text(u: unknown): boolean {
  return typeof u === 'string' && u.includes(':');
}

/**
 * An IPv6 route: the destination a prefix without host bits, not a duplicate; a gateway of the
 * same family that is link-local (then the route must name its interface: every interface has
 * fe80::/64) or on an IPv6 prefix of its interface (or of some interface), never ours, never
 * multicast. Returns the route's interface name, or undefined after reporting a problem.
 */
function checkIpv6Route(
  route: Record<string, unknown> | undefined, at: string, destText: string, interfaces: readonly InterfaceFacts[],
  destinationAt: Map<string, number>, problems: ConfigProblem[],
): string | undefined {
  const dest = parseIpv6Prefix(destText);
  if (dest !== undefined) {
    const network = ipv6Network(dest.address, dest.prefixLength);
    const key = `${formatIpv6(network)}/${dest.prefixLength}`;
    if (!ipv6Equals(network, dest.address)) {
      problems.push({ path: `${at}.destination`, message: `"${destText}" has host bits set (did you mean ${key}?)` });
    } else {
      const first = destinationAt.get(key);
      if (first !== undefined) problems.push({ path: `${at}.destination`, message: `${key} is already the destination of routes.${first}` });
      else destinationAt.set(key, Number(at.slice('routes.'.length)));
    }
  }
  const hasGateway = route?.gateway !== undefined;
  const ifaceName = typeof route?.interface === 'string' ? route.interface : undefined;
  if (route !== undefined && !hasGateway && route.interface === undefined) {
    problems.push({ path: at, message: 'needs a gateway, an interface, or both' });
    return undefined;
  }
  let iface: InterfaceFacts | undefined;
  if (ifaceName !== undefined && InterfaceName.is(ifaceName)) {
    iface = interfaces.find((f) => f.name === ifaceName);
    if (iface === undefined) {
      const names = interfaces.flatMap((f) => (f.name === undefined ? [] : [`"${f.name}"`]));
      problems.push({ path: `${at}.interface`, message: `"${ifaceName}" is not an interface (there ${names.length === 1 ? 'is' : 'are'} ${names.join(', ') || 'none'})` });
      return undefined;
    }
  }
  if (!hasGateway) return iface?.name;
  const gwText = typeof route?.gateway === 'string' ? route.gateway : undefined;
  const gateway = gwText === undefined ? undefined : parseIpv6(gwText);
  if (gateway === undefined) {
    if (gwText !== undefined && parseIpv4(gwText) !== undefined) {
      problems.push({ path: `${at}.gateway`, message: `${gwText} is an IPv4 address; the destination ${destText} is IPv6` });
    }
    return undefined;
  }
  if (isIpv6Multicast(gateway) || isIpv6Unspecified(gateway) || isIpv6Loopback(gateway)) {
    problems.push({ path: `${at}.gateway`, message: `${gwText as string} cannot be a next hop (multicast, unspecified or loopback)` });
    return undefined;
  }
  if (isIpv6LinkLocal(gateway)) {
    if (iface === undefined) {
      problems.push({ path: `${at}.interface`, message: `is required: the gateway ${gwText as string} is link-local, on every interface's fe80::/64` });
      return undefined;
    }
    return iface.name;
  }
  const candidates = iface === undefined ? interfaces : [iface];
  if (candidates.some((f) => f.subnets6.some((p) => ipv6Equals(p.address, gateway)))) {
    problems.push({ path: `${at}.gateway`, message: `${formatIpv6(gateway)} is one of this stack's own addresses` });
    return undefined;
  }
  let owner: InterfaceFacts | undefined;
  let best = -1;
  for (const f of candidates) {
    for (const p of f.subnets6) {
      if (p.prefixLength > best && ipv6InPrefix(gateway, 0, ipv6Network(p.address, p.prefixLength), p.prefixLength)) {
        owner = f;
        best = p.prefixLength;
      }
    }
  }
  if (owner === undefined) {
    const where = iface === undefined ? 'any interface' : `interface "${iface.name}"`;
    problems.push({ path: `${at}.gateway`, message: `${formatIpv6(gateway)} is neither link-local nor on an IPv6 prefix of ${where}` });
    return undefined;
  }
  return owner.name;
}

/** The interface with the longest prefix holding `addr`. */
function longestMatch(interfaces: readonly InterfaceFacts[], addr: Ipv4Addr): InterfaceFacts | undefined {
  let best: InterfaceFacts | undefined;
  let bestLength = -1;
  for (const f of interfaces) {
    for (const s of f.subnets) {
      if (s.prefixLength > bestLength && ((addr & s.mask) >>> 0) === s.network) {
        best = f;
        bestLength = s.prefixLength;
      }
    }
  }
  return best;
}

/**
 * The protocol sections for the cross-field checks: every field that decodes on its own is
 * kept, so a section with one bad field still gets its other fields checked (the bad field was
 * already reported by the codec).
 */
function decodedSections(raw: Record<string, unknown> | undefined): ProtocolOptions {
  return {
    arp: salvage(ArpOptions, raw?.arp),
    ipv4: salvage(Ipv4Options, raw?.ipv4),
    icmp: salvage(IcmpOptions, raw?.icmp),
    udp: salvage(UdpOptions, raw?.udp),
    tcp: salvage(TcpOptions, raw?.tcp),
  };
}

/** The fields of `value` that `codec` (an all-optional closed object) accepts one by one. */
function salvage<C extends ClosedObjectCodec<Record<string, never>, Record<string, t.Mixed>>>(
  codec: C,
  value: unknown,
): t.TypeOf<C> | undefined {
  const record = asRecord(value);
  if (record === undefined) return undefined;
  const out: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(codec.optional)) {
    if (record[key] === undefined) continue;
    const nested = field as Partial<ClosedObjectCodec<Record<string, never>, Record<string, t.Mixed>>>;
    if (nested.optional !== undefined) {
      out[key] = salvage(field as ClosedObjectCodec<Record<string, never>, Record<string, t.Mixed>>, record[key]);
      continue;
    }
    const r = field.decode(record[key]);
    if (!isLeft(r)) out[key] = r.right;
  }
  return out as t.TypeOf<C>;
}

function asRecord(u: unknown): Record<string, unknown> | undefined {
  return u !== null && typeof u === 'object' && !Array.isArray(u) ? (u as Record<string, unknown>) : undefined;
}

const SECTION_ORDER = ['', 'interfaces', 'routes', 'arp', 'ipv4', 'icmp', 'udp', 'tcp', 'ipv6'];

/** Groups problems by section, then by list index, keeping discovery order within a group. */
function sortProblems(problems: ConfigProblem[]): ConfigProblem[] {
  const rank = (p: ConfigProblem): [number, number] => {
    const [section = '', index] = p.path.split('.');
    const r = SECTION_ORDER.indexOf(section);
    const n = index !== undefined && /^[0-9]+$/.test(index) ? Number(index) : -1;
    return [r < 0 ? SECTION_ORDER.length : r, n];
  };
  return problems
    .map((p, i) => ({ p, i, r: rank(p) }))
    .sort((a, b) => a.r[0] - b.r[0] || a.r[1] - b.r[1] || a.i - b.i)
    .map((x) => x.p);
}
