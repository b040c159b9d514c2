/**
 * Ready-made test benches on the memory wire, no root and no device needed:
 *
 * - `createStackPair`: two stacks, `a` at 198.18.0.1 and `b` at 198.18.0.2, for testing code
 *   that talks to itself through the whole stack (a client on one, a server on the other);
 * - `createStackAndPeer`: one stack at 198.18.0.2 and a `TestPeer` at 198.18.0.1 that the test
 *   drives frame by frame, for testing what goes on the wire.
 *
 * Pass a TestScheduler as `scheduler` for virtual time (every timer of the stacks and the wire's
 * deliveries run on it), or nothing for real time.
 */
import type { SchedulerLike } from 'rxjs';
import { createMemoryWire, createStack, type MemoryWireEnd, type MemoryWireOptions, type Stack, type StackOptions } from '../index.js';
import { parseIpv4 } from '../../src/index.js';
import { macText, type MacLike } from './addresses.js';
import { createTestPeer, type TestPeer } from './peer.js';

/** What `createStack` takes, apart from the interfaces a bench makes itself. */
export type StackConfigExtras = Omit<Parameters<typeof createStack>[0], 'interfaces'>;

/** Stack options a bench passes on (the scheduler is the bench's). */
export type StackOptionsExtras = Omit<StackOptions, 'scheduler'>;

/** The wire's options a bench passes on (its scheduler and MACs are the bench's). */
export type WireExtras = Omit<MemoryWireOptions, 'scheduler' | 'macs'>;

export interface StackPairOptions {
  /** Every timer of both stacks and the wire. Default: real time. */
  readonly scheduler?: SchedulerLike;
  /** Latency, bandwidth, MTU... of the wire. Default: instant, MTU 1500. */
  readonly wire?: WireExtras;
  /** Configuration of stack a beyond its interface (`tcp`, `udp`, `routes`...). */
  readonly configA?: StackConfigExtras;
  readonly configB?: StackConfigExtras;
  /** Options of stack a (hooks). */
  readonly optionsA?: StackOptionsExtras;
  readonly optionsB?: StackOptionsExtras;
  /** Addresses of a's interface. Default `['198.18.0.1/24']`. */
  readonly addressesA?: readonly string[];
  /** Addresses of b's interface. Default `['198.18.0.2/24']`. */
  readonly addressesB?: readonly string[];
}

/** Two stacks on a memory wire. */
export interface StackPair {
  readonly a: Stack;
  readonly b: Stack;
  /** a's and b's ends of the wire (their `stats` count frames and drops). */
  readonly links: readonly [MemoryWireEnd, MemoryWireEnd];
  readonly scheduler: SchedulerLike | undefined;
  /** Closes both stacks (and with them the wire). */
  close(): void;
}

/**
 * Two stacks joined by a memory wire: `a` (198.18.0.1, 02:00:00:00:00:01) and `b` (198.18.0.2,
 * 02:00:00:00:00:02) unless told otherwise.
 *
 * @throws NetstackError `ERR_INVALID_CONFIG` when a configuration is bad (naming every bad field).
 */
export function createStackPair(options: StackPairOptions = {}): StackPair {
  const { scheduler } = options;
  const links = createMemoryWire({ ...options.wire, scheduler, macs: ['02:00:00:00:00:01', '02:00:00:00:00:02'] });
  const a = createStack(
    { ...options.configA, interfaces: [{ name: 'eth0', link: links[0], ipv4: options.addressesA ?? ['198.18.0.1/24'] }] },
    { ...options.optionsA, scheduler },
  );
  let b: Stack;
  try {
    b = createStack(
      { ...options.configB, interfaces: [{ name: 'eth0', link: links[1], ipv4: options.addressesB ?? ['198.18.0.2/24'] }] },
      { ...options.optionsB, scheduler },
    );
  } catch (err) {
    a.close();
    throw err;
  }
  return {
    a, b, links, scheduler,
    close: () => {
      a.close();
      b.close();
    },
  };
}

export interface StackAndPeerOptions {
  /** Every timer of the stack, the wire's deliveries and the peer's clock. Default: real time. */
  readonly scheduler?: SchedulerLike;
  readonly wire?: WireExtras;
  /** The stack's configuration beyond its interface. */
  readonly config?: StackConfigExtras;
  /** The stack's options (hooks). */
  readonly options?: StackOptionsExtras;
  /** The stack's interface addresses. Default `['198.18.0.2/24']`; the first is the peer's `remoteIp`. */
  readonly addresses?: readonly string[];
  /** Default `'02:00:00:00:00:02'`. */
  readonly stackMac?: MacLike;
  /** The peer's address. Default `'198.18.0.1'`. */
  readonly peerIp?: string;
  /** Default `'02:00:00:00:00:01'`. */
  readonly peerMac?: MacLike;
  /** Addresses the peer answers ARP for. Default: its own. */
  readonly answerArpFor?: readonly string[];
}

/** The address part of the first CIDR, or 0.0.0.0 when it is bad (createStack then says why). */
function firstAddress(cidrs: readonly string[]): string {
  const text = typeof cidrs[0] === 'string' ? cidrs[0].split('/')[0] : '';
  return parseIpv4(text) === undefined ? '0.0.0.0' : text;
}

/** A stack and the raw peer facing it. */
export interface StackAndPeer {
  readonly stack: Stack;
  readonly peer: TestPeer;
  readonly scheduler: SchedulerLike | undefined;
  /** Closes the stack and the peer. */
  close(): void;
}

/**
 * One stack and a `TestPeer` on a memory wire. The peer listens before the stack starts, so
 * its `received` begins with the stack's gratuitous ARP.
 *
 * @throws NetstackError `ERR_INVALID_CONFIG` when the configuration is bad.
 */
export function createStackAndPeer(options: StackAndPeerOptions = {}): StackAndPeer {
  const { scheduler } = options;
  const stackMac = macText(options.stackMac ?? '02:00:00:00:00:02');
  const peerMac = macText(options.peerMac ?? '02:00:00:00:00:01');
  const addresses = options.addresses ?? ['198.18.0.2/24'];
  const [stackEnd, peerEnd] = createMemoryWire({ ...options.wire, scheduler, macs: [stackMac, peerMac] });
  const peer = createTestPeer(peerEnd, {
    ip: options.peerIp ?? '198.18.0.1',
    mac: peerMac,
    remoteIp: firstAddress(addresses),
    remoteMac: stackMac,
    answerArpFor: options.answerArpFor,
    scheduler,
  });
  let stack: Stack;
  try {
    stack = createStack(
      { ...options.config, interfaces: [{ name: 'eth0', link: stackEnd, mac: stackMac, ipv4: addresses }] },
      { ...options.options, scheduler },
    );
  } catch (err) {
    peer.close();
    stackEnd.close();
    throw err;
  }
  return {
    stack, peer, scheduler,
    close: () => {
      stack.close();
      peer.close();
    },
  };
}
