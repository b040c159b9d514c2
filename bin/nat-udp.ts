/**
 * `rx-netstack nat`, UDP: each flow of the namespace (its address and port to a destination)
 * gets a connected UDP socket of its own here (the addon's DatagramSocket: node:dgram costs an
 * allocation, an address object and an event per datagram), so the destination's replies find their way back;
 * the flow and its socket end together after a quiet minute. Datagrams to the DNS forwarder's
 * address, port 53, go to the upstream resolver instead, and its answers come back from the
 * forwarder's address. When the host's socket hears that the destination refuses (the kernel's
 * ICMP port unreachable: ECONNREFUSED) or cannot be reached (EHOSTUNREACH, ENETUNREACH, also
 * from connect), the flow is answered with that ICMP error from the destination, as a router would.
 *
 * Flow offload (on a TUN device, unless turned off): once a flow's first datagram has gone the
 * whole way (IPv4, UDP, the forwarder's session, its host socket), the flow is registered with
 * the device's flow table in the addon (native/udp-flow.h), which from then on relays its plain
 * datagrams both ways without calling into JavaScript, while nothing observes the hops it skips
 * (`UdpFlowOffload.gate`). Their counts are folded into the stack's counters whenever those are
 * read (and at each tick of the session's idle timer, which they keep alive).
 */
import { randomInt } from 'node:crypto';
import { constants } from 'node:os';
import type { Subscription } from 'rxjs';
import { parseIpv4 } from '../src/ipv4/address.js';
import { DATAGRAM_READ, loadTapAddon, type NativeDatagramSocket, type NativeTapHandle } from '../streams/links/tap-native.js';
import type { DirectGate } from '../streams/pipeline/direct-gate.js';
import type { Stack } from '../streams/stack/create-stack.js';
import type { UdpRefusal } from '../streams/stack/udp-forwarder.js';

export interface UdpRelayOptions {
  /** The gateway's address in the namespace: datagrams to it go to 127.0.0.1 here (or are dropped). */
  readonly gateway: string;
  readonly hostLoopback: boolean;
  /** The DNS forwarder's address in the namespace, when there is one. */
  readonly dns?: string;
  /** Where DNS queries go; undefined: nowhere (dropped). */
  readonly dnsUpstream?: { readonly address: string; readonly port: number };
  /** A flow with no datagram either way for this long ends. Default 60 s. */
  readonly idleTimeoutMs?: number;
  /**
   * Called when a datagram from the namespace went out through a host socket: its answer comes
   * back through that socket, not as a write to the device (TapLink.answeredElsewhere, so the
   * device reads one frame per wake-up under request/response). Default: nothing.
   */
  readonly answeredElsewhere?: () => void;
  /** Established flows relayed by the TUN device's flow table in the addon; undefined: every datagram goes through the stack. */
  readonly offload?: UdpFlowOffload;
}

/** Where and while flows may be offloaded (see the module's comment). */
export interface UdpFlowOffload {
  /** The TUN device's addon handle (TapDevice.nativeHandle). */
  readonly device: NativeTapHandle;
  /** The device's MTU: a longer answer goes through the stack, which fragments it. */
  readonly mtu: number;
  /** The answers' TTL: the stack's (IPv4 defaultTtl). */
  readonly ttl: number;
  /**
   * Open (`shut` 0) while nothing observes the hops the flows skip (the link, network and
   * transport tap points, both ways): a flow is registered only then, and every flow goes back
   * to the stack the moment it shuts (its `onShut`, taken over here).
   */
  readonly gate: DirectGate;
}

/** takeFlowCounts' slots. */
const FLOW_RX_DATAGRAMS = 0;
const FLOW_RX_BYTES = 1;
const FLOW_TX_DATAGRAMS = 2;
const FLOW_TX_BYTES = 3;
const FLOW_ACTIVE = 4;

const DNS_PORT = 53;
const MAX_SESSIONS = 1024;
const IDLE_TIMEOUT_MS = 60_000;

/** The ICMP error the namespace gets for the host socket's error; undefined: that datagram is just lost. */
export function udpRefusalFor(code: string | undefined): UdpRefusal | undefined {
  switch (code) {
    case 'ECONNREFUSED':
      return 'port-unreachable';
    case 'EHOSTUNREACH':
      return 'host-unreachable';
    case 'ENETUNREACH':
      return 'net-unreachable';
    default:
      return undefined;
  }
}

/** Node's name for an errno (111 -> 'ECONNREFUSED'). */
const ERRNO_NAMES = new Map<number, string>(Object.entries(constants.errno).map(([name, n]) => [n, name]));

/** Starts relaying the namespace's UDP; unsubscribing ends every flow and closes its socket. */
export function relayUdp(stack: Stack, options: UdpRelayOptions): Subscription {
  const sockets = new Set<NativeDatagramSocket>();
  const addon = loadTapAddon();
  const DatagramSocket = addon.DatagramSocket;
  // Where every socket's datagram is read (this thread's, shared by all its sockets).
  const readBuffer = new Uint8Array(addon.datagramReadBuffer);
  const read = addon.datagramRead;
  const answered = options.answeredElsewhere;
  // The last view made over the read buffer, reused while datagrams land at the same place with
  // the same length (request/response: every answer): one typed array less per datagram. Its
  // bytes are the buffer's, overwritten by the next read either way.
  let view = readBuffer.subarray(0, 0);
  let viewOffset = 0;
  const viewOf = (offset: number, length: number): Uint8Array => {
    if (offset !== viewOffset || length !== view.length) {
      view = readBuffer.subarray(offset, offset + length);
      viewOffset = offset;
    }
    return view;
  };
  const offload = options.offload;
  /** A session's flow as the offload sees it: its socket, and whether the flow table relayed a datagram since the idle timer last asked. */
  interface Flow {
    readonly socket: NativeDatagramSocket;
    active: boolean;
  }
  // The flows in the device's table now.
  const offloaded = new Set<Flow>();
  const flowCounts = new Float64Array(5);
  const registry = stack.statsRegistry;
  type Counts = Record<string, number>;
  const ipv4 = registry.get('ipv4') as Counts;
  const udp = registry.get('udp') as Counts;
  const forwarded = registry.get('udpForward') as Counts;
  /** Takes what the flow table relayed for `flow` into the stack's counters (and its activity into `flow.active`). */
  const fold = (flow: Flow): void => {
    const n = flowCounts;
    n.fill(0);
    flow.socket.takeFlowCounts(n);
    if (n[FLOW_ACTIVE] === 0) return;
    flow.active = true;
    const rx = n[FLOW_RX_DATAGRAMS];
    const tx = n[FLOW_TX_DATAGRAMS];
    ipv4.rxPackets += rx;
    ipv4.rxDelivered += rx;
    ipv4.rxForeign += rx;
    udp.rxDatagrams += rx; // (its rxBytes counts what sockets bound here take, not forwarded datagrams)
    forwarded.rxDatagrams += rx;
    forwarded.rxBytes += n[FLOW_RX_BYTES];
    ipv4.txPackets += tx;
    udp.txDatagrams += tx;
    udp.txBytes += n[FLOW_TX_BYTES];
    forwarded.txDatagrams += tx;
    forwarded.txBytes += n[FLOW_TX_BYTES];
  };
  const foldAll = (): void => {
    for (const flow of offloaded) fold(flow);
  };
  /** The idle timer's question: did the flow table relay a datagram of `flow` since it last asked? */
  const wasActive = (flow: Flow): boolean => {
    fold(flow);
    const active = flow.active;
    flow.active = false;
    return active;
  };
  /** `flow` goes the stack's way again; its counts are folded first. */
  const takeBack = (flow: Flow): void => {
    if (!offloaded.delete(flow)) return;
    flow.socket.offloadEnd();
    fold(flow);
  };
  let stopFolding: (() => void) | undefined;
  if (offload !== undefined) {
    stopFolding = registry.beforeSnapshot(foldAll);
    offload.gate.onShut = () => {
      for (const flow of [...offloaded]) takeBack(flow);
    };
  }
  const subscription = stack.udp
    .forward({ maxSessions: MAX_SESSIONS, idleTimeoutMs: options.idleTimeoutMs ?? IDLE_TIMEOUT_MS })
    .subscribe((session) => {
      let target: { address: string; port: number } | undefined;
      if (session.localAddress === options.dns) target = session.localPort === DNS_PORT ? options.dnsUpstream : undefined;
      else if (session.localAddress === options.gateway) target = options.hostLoopback ? { address: '127.0.0.1', port: session.localPort } : undefined;
      else target = { address: session.localAddress, port: session.localPort };
      const address = target === undefined ? undefined : parseIpv4(target.address);
      if (target === undefined || address === undefined) {
        session.close();
        return;
      }
      // An error of the connected socket (an ICMP error the kernel got for an earlier datagram,
      // a send with no route here) answers the flow with its ICMP error; others lose a datagram.
      // Set once the flow met an error: it stays with the stack.
      let mayOffload = offload !== undefined;
      const onError = (errno: number): void => {
        mayOffload = false;
        takeBack(flow);
        const how = udpRefusalFor(ERRNO_NAMES.get(errno));
        if (how !== undefined) session.refuse(how);
      };
      // The view is over the addon's shared receive buffer: session.send copies it into the
      // packet it builds before returning.
      const onMessage = (): void => {
        session.send(viewOf(read[DATAGRAM_READ.offset], read[DATAGRAM_READ.length]));
      };
      let socket: NativeDatagramSocket;
      try {
        socket = new DatagramSocket('udp', onMessage, onError);
      } catch {
        session.close(); // out of sockets (EMFILE): the datagram is lost, as a router under load loses it
        return;
      }
      sockets.add(socket);
      const flow: Flow = { socket, active: false };
      const client = parseIpv4(session.remoteAddress);
      const destination = parseIpv4(session.localAddress);
      if (client === undefined || destination === undefined) mayOffload = false; // IPv6: not offloaded
      else if (offload !== undefined) session.setActivityProbe(() => wasActive(flow));
      // Connected: only the destination's datagrams arrive. A connect that fails (no route here)
      // answers every datagram of the flow with its error.
      const connected = socket.connect(address, target.port);
      const unreachable: UdpRefusal | undefined = connected < 0 ? (udpRefusalFor(ERRNO_NAMES.get(-connected)) ?? 'host-unreachable') : undefined;
      session.datagrams$.subscribe({
        next: (payload) => {
          if (unreachable !== undefined) {
            session.refuse(unreachable);
            return;
          }
          // The answer, when the destination ran during the send (a CPU shared with it), is
          // read at once and goes back into the namespace in this same batch of the device.
          const sent = socket.sendAndReceive(payload);
          if (sent < 0) onError(-sent);
          else {
            answered?.();
            // Established (a datagram went out and nothing failed): the device's flow table
            // takes the next ones while nothing observes the hops it skips.
            if (mayOffload && offload !== undefined && offload.gate.shut === 0 && !offloaded.has(flow)) {
              const r = socket.offload(offload.device, client!, session.remotePort, destination!, session.localPort, offload.ttl, randomInt(65536), offload.mtu);
              if (r === 0) offloaded.add(flow);
              else mayOffload = false;
            }
          }
        },
        complete: () => {
          takeBack(flow);
          sockets.delete(socket);
          socket.close();
        },
      });
    });
  subscription.add(() => {
    foldAll();
    stopFolding?.();
    if (offload !== undefined) offload.gate.onShut = undefined;
    for (const socket of sockets) socket.close();
    sockets.clear();
  });
  return subscription;
}
