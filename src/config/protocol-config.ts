/**
 * The protocol sections of the stack configuration (`arp`, `ipv4`, `icmp`, `udp`, `tcp`): their
 * codecs and how they resolve against the defaults.
 *
 * The layers own their tunables: the shapes and defaults live with each core
 * (src/ipv4/config.ts for ARP, IPv4 and ICMP; src/tcp/config.ts for TCP). The codecs here are
 * built to match them field for field (the type checks at the bottom fail the build when a
 * field is added to a core but not here), except TCP's, which is derived from
 * DEFAULT_TCP_CONFIG's keys and leaves range checking to `resolveTcpConfig`, so a new TCP knob
 * needs no change here.
 */
import type * as t from 'io-ts';
import {
  ICMP_DEFAULTS,
  IPV4_OUTPUT_DEFAULTS,
  NEIGHBOR_CACHE_DEFAULTS,
  REASSEMBLY_DEFAULTS,
  type IcmpConfig,
  type Ipv4OutputConfig,
  type NeighborCacheConfig,
  type ReassemblyConfig,
} from '../ipv4/config.js';
import { DEFAULT_TCP_CONFIG, TCP_ECN_MODES, TCP_LOSS_DETECTIONS, resolveTcpConfig, type TcpConfig, type TcpEcnMode, type TcpLossDetection } from '../tcp/config.js';
import { isCongestionControlChoice, type CongestionControlChoice } from '../tcp/congestion/congestion-control.js';
import { DEFAULT_TCP_LIMITS, TCP_LIMIT_KEYS, resolveTcpLimits, type TcpLimitsConfig } from '../tcp/limits.js';
import { DEFAULT_EPHEMERAL_RANGE } from '../transport/port-manager.js';
import { NetstackError } from '../errors.js';
import { Bool, DurationMs, Mtu, NonNegativeInt, NonNegativeNumber, PortRange, PositiveInt, PowerOfTwo, Ttl } from './codecs.js';
import { closedObject, refinement } from './object-codec.js';
import type { ConfigProblem } from './problems.js';

// --- Codecs ------------------------------------------------------------------------------------

export const ArpOptions = closedObject('ArpOptions', 'ARP options (an object)', {}, {
  reachableTimeMs: DurationMs,
  expireTimeMs: DurationMs,
  retransmitIntervalMs: DurationMs,
  maxRequests: PositiveInt,
  // RFC 1122 2.3.2.2: hold at least one packet per unresolved address.
  maxQueuePerDestination: PositiveInt,
  maxQueuedPackets: PositiveInt,
  maxEntries: PositiveInt,
  requestRatePerSecond: NonNegativeNumber,
  requestBurst: NonNegativeInt,
});

export const ReassemblyOptions = closedObject('ReassemblyOptions', 'IPv4 reassembly options (an object)', {}, {
  timeoutMs: DurationMs,
  maxBytes: NonNegativeInt,
  maxDatagrams: NonNegativeInt,
  fragmentOverheadBytes: NonNegativeInt,
});

export const Ipv4Options = closedObject('Ipv4Options', 'IPv4 options (an object)', {}, {
  defaultTtl: Ttl,
  defaultMtu: Mtu,
  idTableSize: PowerOfTwo,
  reassembly: ReassemblyOptions,
});

export const IcmpOptions = closedObject('IcmpOptions', 'ICMP options (an object)', {}, {
  errorRatePerSecond: NonNegativeNumber,
  errorBurst: NonNegativeInt,
});

export const UdpOptions = closedObject('UdpOptions', 'UDP options (an object)', {}, {
  ephemeralPortRange: PortRange,
  maxQueuedBytes: NonNegativeInt,
  maxQueuedDatagrams: NonNegativeInt,
});

type TcpFieldCodecs = { [K in keyof TcpConfig]: t.Type<TcpConfig[K], TcpConfig[K], unknown> };
const TcpLossDetectionCodec = refinement<TcpLossDetection, TcpLossDetection>(
  'TcpLossDetection',
  TCP_LOSS_DETECTIONS.map((v) => `'${v}'`).join(' or '),
  (u) => (TCP_LOSS_DETECTIONS.includes(u as TcpLossDetection) ? (u as TcpLossDetection) : undefined),
  (a) => a,
);
// Structure only (type per field, unknown keys): ranges are resolveTcpConfig's.
/** A built-in algorithm's name or a factory (a function, checked no further). */
const CongestionControl = refinement<CongestionControlChoice, CongestionControlChoice>(
  'CongestionControl',
  "'cubic', 'newreno' or a congestion-control factory function",
  (u) => (isCongestionControlChoice(u) ? u : undefined),
  (a) => a,
);

/** `tcp.ecn`: 'off', 'passive' or 'on'. */
const TcpEcn = refinement<TcpEcnMode, TcpEcnMode>(
  'TcpEcnMode',
  "'off', 'passive' or 'on'",
  (u) => (TCP_ECN_MODES.includes(u as TcpEcnMode) ? (u as TcpEcnMode) : undefined),
  (a) => a,
);

// Numbers and booleans by the type of their default; the three that are neither, by name.
const tcpFieldCodecs = {
  ...Object.fromEntries(
    Object.entries(DEFAULT_TCP_CONFIG).map(([key, value]) => [key, typeof value === 'boolean' ? Bool : NonNegativeNumber]),
  ),
  congestionControl: CongestionControl,
  ecn: TcpEcn,
  lossDetection: TcpLossDetectionCodec,
} as unknown as TcpFieldCodecs;

// The stack-wide limits: numbers, ranges checked by resolveTcpLimits (every bad one named).
const tcpLimitCodecs = Object.fromEntries(TCP_LIMIT_KEYS.map((key) => [key, NonNegativeNumber])) as unknown as {
  [K in keyof TcpLimitsConfig]: t.Type<number, number, unknown>;
};

export const TcpOptions = closedObject('TcpOptions', 'TCP options (an object)', {}, {
  ...tcpFieldCodecs,
  ...tcpLimitCodecs,
  ephemeralPortRange: PortRange,
});

// --- Resolved sections -------------------------------------------------------------------------

/** `arp` after defaults: the neighbour cache configuration of every interface. */
export type ArpConfig = Readonly<NeighborCacheConfig>;

/** `ipv4` after defaults. */
export interface Ipv4Config extends Readonly<Ipv4OutputConfig> {
  readonly reassembly: Readonly<ReassemblyConfig>;
}

export type { IcmpConfig };

export interface UdpConfig {
  /** Ports handed out for port 0, inclusive. Default [49152, 65535] (IANA dynamic range). */
  readonly ephemeralPortRange: readonly [number, number];
  /**
   * Payload bytes queued in all sockets' receive queues together (each socket also has its own
   * `receiveQueue` limit); a datagram beyond it is dropped and counted (`drops.stackQueueFull`).
   * Default 16 MiB.
   */
  readonly maxQueuedBytes: number;
  /** Datagrams queued in all sockets together (a flood of empty datagrams costs memory too). Default 65536. */
  readonly maxQueuedDatagrams: number;
}

/** Defaults of the stack-wide UDP queue limits. */
export const DEFAULT_UDP_QUEUE_LIMITS = Object.freeze({ maxQueuedBytes: 16 * 1024 * 1024, maxQueuedDatagrams: 65_536 });

/** `tcp` after defaults: the TCP core's own config, the stack-wide limits and the ephemeral port range. */
export interface TcpStackConfig extends TcpConfig, TcpLimitsConfig {
  /** Ports handed out for port 0 and connect(), inclusive. Default [49152, 65535]. */
  readonly ephemeralPortRange: readonly [number, number];
}

export interface ProtocolConfigs {
  readonly arp: ArpConfig;
  readonly ipv4: Ipv4Config;
  readonly icmp: Readonly<IcmpConfig>;
  readonly udp: UdpConfig;
  readonly tcp: TcpStackConfig;
}

export interface ProtocolOptions {
  readonly arp?: t.TypeOf<typeof ArpOptions>;
  readonly ipv4?: t.TypeOf<typeof Ipv4Options>;
  readonly icmp?: t.TypeOf<typeof IcmpOptions>;
  readonly udp?: t.TypeOf<typeof UdpOptions>;
  readonly tcp?: t.TypeOf<typeof TcpOptions>;
}

/** The defaults of every section, as `resolveProtocolConfigs({})` returns them. */
export const DEFAULT_PROTOCOL_CONFIGS: ProtocolConfigs = Object.freeze({
  arp: NEIGHBOR_CACHE_DEFAULTS,
  ipv4: Object.freeze({ ...IPV4_OUTPUT_DEFAULTS, reassembly: REASSEMBLY_DEFAULTS }),
  icmp: ICMP_DEFAULTS,
  udp: Object.freeze({ ephemeralPortRange: DEFAULT_EPHEMERAL_RANGE, ...DEFAULT_UDP_QUEUE_LIMITS }),
  tcp: Object.freeze({ ...DEFAULT_TCP_CONFIG, ...DEFAULT_TCP_LIMITS, ephemeralPortRange: DEFAULT_EPHEMERAL_RANGE }),
});

/**
 * Fills every section from the defaults and checks what needs more than one field (or the
 * core's own validation). Problems are pushed to `problems`; the result is only meaningful
 * when none were.
 */
export function resolveProtocolConfigs(options: ProtocolOptions, problems: ConfigProblem[]): ProtocolConfigs {
  const arp: ArpConfig = Object.freeze({ ...NEIGHBOR_CACHE_DEFAULTS, ...options.arp });
  if (arp.expireTimeMs < arp.reachableTimeMs) {
    const path = options.arp?.expireTimeMs !== undefined ? 'arp.expireTimeMs' : 'arp.reachableTimeMs';
    problems.push({ path, message: `expireTimeMs (${arp.expireTimeMs}) must be >= reachableTimeMs (${arp.reachableTimeMs})` });
  }

  const { reassembly, ...output } = options.ipv4 ?? {};
  const ipv4: Ipv4Config = Object.freeze({
    ...IPV4_OUTPUT_DEFAULTS,
    ...output,
    reassembly: Object.freeze({ ...REASSEMBLY_DEFAULTS, ...reassembly }),
  });

  const icmp = Object.freeze({ ...ICMP_DEFAULTS, ...options.icmp });
  const udp: UdpConfig = Object.freeze({
    ephemeralPortRange: options.udp?.ephemeralPortRange ?? DEFAULT_EPHEMERAL_RANGE,
    maxQueuedBytes: options.udp?.maxQueuedBytes ?? DEFAULT_UDP_QUEUE_LIMITS.maxQueuedBytes,
    maxQueuedDatagrams: options.udp?.maxQueuedDatagrams ?? DEFAULT_UDP_QUEUE_LIMITS.maxQueuedDatagrams,
  });

  const { ephemeralPortRange, ...tcpRest } = options.tcp ?? {};
  const { limits: limitOptions, core: tcpOptions } = splitTcpLimits(tcpRest);
  let tcpCore: TcpConfig = DEFAULT_TCP_CONFIG;
  try {
    tcpCore = resolveTcpConfig(tcpOptions);
  } catch (err) {
    if (!(err instanceof NetstackError)) throw err;
    problems.push(...tcpProblems(err.message));
  }
  const limitProblems: [string, string][] = [];
  const tcpLimits = resolveTcpLimits(limitOptions, limitProblems);
  for (const [key, message] of limitProblems) problems.push({ path: `tcp.${key}`, message });
  const tcp: TcpStackConfig = Object.freeze({ ...tcpCore, ...tcpLimits, ephemeralPortRange: ephemeralPortRange ?? DEFAULT_EPHEMERAL_RANGE });

  return Object.freeze({ arp, ipv4, icmp, udp, tcp });
}

/** Separates the stack-wide limits from the per-connection options of the `tcp` section. */
export function splitTcpLimits<T extends object>(options: T): { limits: Partial<TcpLimitsConfig>; core: Omit<T, keyof TcpLimitsConfig> } {
  const limits: Record<string, unknown> = {};
  const core: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(options)) {
    if ((TCP_LIMIT_KEYS as readonly string[]).includes(key)) limits[key] = value;
    else core[key] = value;
  }
  return { limits: limits as Partial<TcpLimitsConfig>, core: core as Omit<T, keyof TcpLimitsConfig> };
}

/**
 * resolveTcpConfig reports `invalid TCP configuration: key: message; key: message`; each part
 * becomes a problem at `tcp.key`. Anything else is kept whole at `tcp`.
 */
function tcpProblems(message: string): ConfigProblem[] {
  const marker = 'invalid TCP configuration: ';
  const at = message.indexOf(marker);
  if (at < 0) return [{ path: 'tcp', message }];
  return message
    .slice(at + marker.length)
    .split('; ')
    .map((part) => {
      const m = /^([A-Za-z0-9_]+): (.*)$/s.exec(part);
      return m === null ? { path: 'tcp', message: part } : { path: `tcp.${m[1]}`, message: m[2] };
    });
}

// Each codec decodes exactly its core's fields (compared on the encoded side, where branded
// numbers like Mtu are plain numbers): adding a field to a core without adding it here fails
// to compile.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const sameFields: [
  Same<Required<t.OutputOf<typeof ArpOptions>>, NeighborCacheConfig>,
  Same<Required<t.OutputOf<typeof ReassemblyOptions>>, ReassemblyConfig>,
  Same<Omit<Required<t.OutputOf<typeof Ipv4Options>>, 'reassembly'>, Ipv4OutputConfig>,
  Same<Required<t.OutputOf<typeof IcmpOptions>>, IcmpConfig>,
  Same<Omit<Required<t.OutputOf<typeof TcpOptions>>, 'ephemeralPortRange' | keyof TcpLimitsConfig>, TcpConfig>,
] = [true, true, true, true, true];
void sameFields;
