/**
 * rx-netstack/testing: what a user needs to test code built on rx-netstack.
 *
 * - Benches on the memory wire: `createStackPair` (two stacks) and `createStackAndPeer` (a stack
 *   and a raw `TestPeer` the test drives frame by frame), on a TestScheduler or in real time.
 * - Frame builders (`tcpFrame`, `udpFrame`, `icmpEchoFrame`, `arpFrame`, `ipv4Frame`,
 *   `ethernetFrame`), made with the core's wire codecs, and the peer's `sendTcp`/`sendUdp`/...
 * - `decodeFrame` and `describeFrame` for assertions, and matchers (`isTcp`, `isUdp`, `isIcmp`,
 *   `isArp`, `isIpv4`) that narrow the frame's type.
 * - Waits that fail clearly in the test's time base: `nextFrame`, `expectNoFrame`,
 *   `waitForState`, `waitFor`, each also as an Observable (`nextFrame$`...), and `advance` for a
 *   TestScheduler driven by hand.
 *
 * Guide: docs/testing.md.
 */
export { macBytes, ipv4Number, macText, ipv4Text, type MacLike, type Ipv4Like } from './addresses.js';
export { tcpFlagBits, formatTcpFlags, type TcpFlagsLike } from './tcp-flags.js';
export {
  ethernetFrame, arpFrame, arpRequestFrame, arpReplyFrame, ipv4Frame, icmpEchoFrame, udpFrame, tcpFrame, payloadBytes,
  type PayloadLike, type EthernetFields, type Ipv4Fields, type TcpFields, type UdpFields, type ArpFields,
} from './frames.js';
export {
  decodeFrame, describeFrame,
  type DecodedFrame, type ReceivedFrame, type DecodedEthernet, type DecodedArp, type DecodedIpv4, type DecodedUdp, type DecodedTcp,
} from './decode.js';
export {
  frameMatcher, anyFrame, allOf, isArp, isIpv4, isIcmp, isUdp, isTcp,
  type FrameMatcher, type ArpFrame, type Ipv4Frame, type IcmpFrame, type UdpFrame, type TcpFrame,
} from './match.js';
export { TestPeer, createTestPeer, type TestPeerOptions, type PeerOverrides } from './peer.js';
export {
  createStackPair, createStackAndPeer,
  type StackPair, type StackPairOptions, type StackAndPeer, type StackAndPeerOptions,
  type StackConfigExtras, type StackOptionsExtras, type WireExtras,
} from './setups.js';
export {
  nextFrame, nextFrame$, expectNoFrame, expectNoFrame$, waitForState, waitForState$, waitFor, waitFor$, failAfter, advance,
  type WaitOptions, type ClockedWaitOptions,
} from './wait.js';
