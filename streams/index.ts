/** rx-netstack: the public API. */
export { createStack, Stack, type StackOptions, type StackHooks, type ArpEntryInfo } from './stack/create-stack.js';
export type { EchoReply, PingOptions, IcmpErrorReport } from './stack/icmp-layer.js';
export type { Ipv4Datagram, Ipv4Outbound } from './stack/ipv4-layer.js';
export { UDP_MAX_PAYLOAD, type Udp, type UdpBindOptions } from './stack/udp-layer.js';
export { UdpSocket, type UdpRemote, type UdpAddressInfo, type UdpSocketStats } from './stack/udp-socket.js';
export type { ReceivedDatagram, ReceiveQueueOptions } from './stack/udp-endpoint.js';
export type { NetInterface } from './stack/net-interface.js';
export type { Link } from './links/link.js';
export { createMemoryWire, type MemoryWireEnd, type MemoryWireOptions } from './links/memory-wire.js';
export { impair, impairLink, type ImpairOptions } from './operators/impair.js';
export { capture, captureLink } from './operators/capture.js';
export { createDemux, type Demux } from './operators/demux.js';
export { relayTo, type RelayTarget, type RelayOptions } from './operators/relay-to.js';
export {
  pacedConcatMap, pacedRead, isPaced, type PacedObservable, type PacedReader, type PacedSubscription,
} from './operators/paced-concat-map.js';
export { unrefScheduler, refTimer } from './stack/unref-scheduler.js';
export { NetstackError } from '../src/errors.js';
export type { Tcp, TcpListenOptions, TcpConnectOptions } from './stack/tcp-layer.js';
export { TcpConnection } from './stack/tcp-connection.js';
export { TcpSocket } from './stack/tcp-socket.js';
export type { TcpState } from '../src/tcp/state.js';
export type { TcpCounters } from '../src/tcp/counters.js';
export { tapLink, type TapLink, type TapLinkOptions, type TapLinkStats } from './links/tap-link.js';
export { TapDevice, type TapDeviceOptions } from './links/tap-device.js';
export {
  echoService, echoConnection, discardService, discardConnection, chargenService, chargenConnection, CHARGEN_CYCLE,
  httpService, httpServiceHandler, HTTP_SERVICE_BODY, udpEchoService, tcpService, type ConnectionHandler,
} from './services/index.js';
