/** rx-netstack: the public API. */
export {
  createStack, Stack, type StackOptions, type StackHooks, type StackTaps, type ArpEntryInfo, type NdpEntryInfo, type InterfaceLayers,
  type Inet6AddressInfo, type Inet6RouteInfo, type NetworkOutbound,
} from './stack/create-stack.js';
export type { StackStats, CountersSnapshot } from './stack/stack-stats.js';

// The pipeline: the contract between layers, and the layers themselves (docs/pipelines.md).
export { between, type Boundary, type BoundaryOperators, type Sink } from './pipeline/boundary.js';
export { linkBoundary, type FrameBoundary } from './pipeline/link-boundary.js';
export type { ProtocolMux } from './pipeline/protocol-mux.js';
export { TapPoint, type BoundaryTaps } from './pipeline/taps.js';
export { netInterface, NetInterface, type NetInterfaceOptions, type InterfaceAddress, type InterfaceIpv6Address } from './stack/net-interface.js';
export { EthernetLayer, ETHERNET_DROP_REASONS, type EthernetOut, type EthernetCounters } from './stack/ethernet-layer.js';
export { ArpLayer, ARP_DROP_REASONS, type NextHopPacket, type NeighborBoundary, type PendingPacket } from './stack/arp-layer.js';
export { staticNeighbors } from './stack/static-neighbors.js';
export { pointToPoint } from './stack/point-to-point.js';
export {
  Ipv4Layer, IPV4_DROP_REASONS, type Ipv4LayerOptions, type Ipv4Datagram, type Ipv4Outbound, type Ipv4Send,
  type Ipv4SendOptions, type Ipv4Port, type Ipv4Network, type Ipv4Route, type ReassemblyTimeout,
} from './stack/ipv4-layer.js';
export { IcmpLayer, ICMP_DROP_REASONS, type IcmpSources, type EchoReply, type PingOptions, type IcmpErrorReport } from './stack/icmp-layer.js';
export {
  Ipv6Layer, IPV6_DROP_REASONS, isIpv6Outbound, type Ipv6LayerOptions, type Ipv6Datagram, type Ipv6Send, type Ipv6NextHopPacket, type Ipv6Outbound, type Ipv6NeighborBoundary,
  type Ipv6Port, type Ipv6Network, type Ipv6Route, type Ipv6ParamProblemEvent, type Ipv6ReassemblyTimeout,
} from './stack/ipv6-layer.js';
export { NdpLayer, NDP_DROP_REASONS, type NdpAutoconf } from './stack/ndp-layer.js';
export { MldLayer, MLD_DROP_REASONS } from './stack/mld-layer.js';
export { AutoconfLayer, type AutoconfOptions, type Ipv6AddressChange } from './stack/autoconf-layer.js';
export { Icmpv6Layer, ICMPV6_DROP_REASONS, type Icmpv6Sources } from './stack/icmpv6-layer.js';
export {
  UdpLayer, UDP_DROP_REASONS, UDP_MAX_PAYLOAD, type Udp, type UdpBindOptions, type UdpLayerOptions, type UdpIcmp,
  type UdpDatagramIn, type UdpDatagramOut,
} from './stack/udp-layer.js';
export {
  TcpLayer, TCP_LAYER_DROP_REASONS, type TcpLayerOptions, type TcpIcmp, type TcpSegmentIn, type TcpSegmentOut,
} from './stack/tcp-layer.js';
export { EtherType } from '../src/wire/ethernet.js';
export { IpProtocol } from '../src/wire/ipv4.js';
export { adjustChecksum } from '../src/wire/checksum.js';
export { ipv4Addr, ipv4Matcher, formatIpv4, parseIpv4, type Ipv4Addr } from '../src/ipv4/address.js';
export { formatIpAddr, parseIpAddr, isIpv6, IP_ANY4, IP_ANY6, type IpAddr } from '../src/ip/address-book.js';
export { IpNetwork, type IpDatagram, type IpSend, type IpRoute, type Ipv6Transport } from './stack/ip-network.js';
export { PacketBuffer } from '../src/packet-buffer.js';
export { DEFAULT_PROTOCOL_CONFIGS } from '../src/config/protocol-config.js';

export { UdpSocket, type UdpRemote, type UdpAddressInfo, type UdpSocketStats } from './stack/udp-socket.js';
export type { ReceivedDatagram, ReceiveQueueOptions } from './stack/udp-endpoint.js';
export type { Link } from './links/link.js';
export { createMemoryWire, type MemoryWireEnd, type MemoryWireOptions } from './links/memory-wire.js';
export { impair, impairLink, type ImpairOptions } from './operators/impair.js';
export { shape, type ShapeOptions } from './operators/shape.js';
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
export { TcpSocket, type TcpSocketOptions } from './stack/tcp-socket.js';
export type { NetModule } from './net/create-net.js';
export { NetServer, type NetServerOptions, type NetAddressInfo } from './net/server.js';
export type { NetConnectOptions, NetListenOptions } from './net/net-args.js';
export type { LookupFunction } from './net/resolve-host.js';
export type { NetErrorFields, NetSystemError } from './net/net-errors.js';
export type { TcpState } from '../src/tcp/state.js';
export type { TcpCounters } from '../src/tcp/counters.js';
export type { TcpInfo } from '../src/tcp/info.js';
export type {
  CongestionAction,
  CongestionControl,
  CongestionControlChoice,
  CongestionControlFactory,
  CongestionControlName,
  CongestionControlParams,
  CongestionCounters,
} from '../src/tcp/congestion/congestion-control.js';
export { setHeapPages, heapPages, HEAP_PAGES_MODES, type HeapPagesMode, type HeapPagesStats } from './links/heap-pages.js';
export { tapLink, type TapLink, type TapLinkOptions, type TapLinkStats } from './links/tap-link.js';
export { TapDevice, type TapDeviceOptions } from './links/tap-device.js';
export { tunLink, type TunLink, type TunLinkOptions } from './links/tun-link.js';
export { TunDevice, type TunDeviceOptions } from './links/tun-device.js';
export {
  echoService, echoConnection, discardService, discardConnection, chargenService, chargenConnection, CHARGEN_CYCLE,
  httpService, httpServiceHandler, HTTP_SERVICE_BODY, udpEchoService, tcpService, type ConnectionHandler,
} from './services/index.js';
