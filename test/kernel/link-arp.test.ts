/**
 * The link layer against the real Linux kernel: frames the kernel sends reach `frames$`, frames
 * we write reach the kernel. Everything runs in a namespace of the test's own (test/helpers/netns.ts).
 */
import assert from 'node:assert/strict';
import { filter, firstValueFrom, timeout } from 'rxjs';
import { formatIpv4, parseIpv4 } from '../../src/ipv4/address.js';
import { MAC_BROADCAST, formatMac, parseMac } from '../../src/mac.js';
import { PacketBuffer } from '../../src/packet-buffer.js';
import { ArpOp, emitArp, parseArp, type ArpRepr } from '../../src/wire/arp.js';
import { EtherType, emitEthernet, parseEthernet } from '../../src/wire/ethernet.js';
import { describeKernelPeer, useKernelPeer } from '../helpers/netns.js';
import { waitUntil } from '../helpers/wait-for.js';

const STACK_IP = parseIpv4('198.18.0.2')!;
const HOST_IP = parseIpv4('198.18.0.1')!;
const STACK_MAC = parseMac('02:00:00:00:00:02')!;

/** An Ethernet frame carrying `arp`, from `src` to `dst`. */
function arpFrame(dst: Uint8Array, src: Uint8Array, arp: ArpRepr): Uint8Array {
  const pb = PacketBuffer.alloc(0, 14 + 28);
  emitArp(arp, pb);
  emitEthernet({ dst, src, ethertype: EtherType.ARP }, pb);
  return pb.bytes();
}

function arpOf(frame: Uint8Array): ArpRepr | undefined {
  const eth = parseEthernet(frame);
  if (!eth.ok || eth.value.ethertype !== EtherType.ARP) return undefined;
  const arp = parseArp(eth.value.payload);
  return arp.ok ? arp.value : undefined;
}

const isArpRequestFor = (ip: number) => (frame: Uint8Array): boolean => {
  const arp = arpOf(frame);
  return arp !== undefined && arp.op === ArpOp.REQUEST && arp.targetIp === ip;
};

/** python3 in the namespace: one UDP datagram to 198.18.0.2:9 (makes the kernel ARP for it). */
const SEND_UDP = `import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.sendto(b'hello from the kernel side', ('198.18.0.2', 9))`;

/** python3 in the namespace: a datagram to each of 198.18.0.100..119 (the kernel ARPs for each). */
const ARP_FOR_20 = `import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(20):
    s.sendto(b'x', ('198.18.0.%d' % (100 + i), 9))`;

describeKernelPeer('kernel peer: link level over TAP', () => {
  const peer = useKernelPeer();

  it('a frame the kernel sends arrives through frames$: its ARP request for 198.18.0.2', async () => {
    const link = peer().attach();
    const kernelMac = link.device.macBytes;
    const arrived = firstValueFrom(link.frames$.pipe(filter(isArpRequestFor(STACK_IP)), timeout(5000)));
    await peer().python(SEND_UDP);
    const frame = await arrived;

    // The raw bytes first (independent of our parsers): broadcast, EtherType 0x0806, target IP.
    assert.deepEqual([...frame.subarray(0, 6)], [0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
    assert.equal((frame[12] << 8) | frame[13], 0x0806);
    assert.deepEqual([...frame.subarray(38, 42)], [198, 18, 0, 2]);

    const eth = parseEthernet(frame);
    assert.ok(eth.ok);
    assert.equal(formatMac(eth.value.dst), formatMac(MAC_BROADCAST));
    assert.equal(formatMac(eth.value.src), formatMac(kernelMac));
    const arp = arpOf(frame)!;
    assert.equal(arp.op, ArpOp.REQUEST);
    assert.equal(formatIpv4(arp.senderIp), '198.18.0.1');
    assert.equal(formatMac(arp.senderMac), formatMac(kernelMac));
    assert.equal(formatIpv4(arp.targetIp), '198.18.0.2');
  });

  it('a frame we write reaches the kernel: it learns our MAC from our ARP request and replies', async () => {
    const link = peer().attach();
    const kernelMac = link.device.macBytes;
    const before = await peer().counters();
    const reply = firstValueFrom(
      link.frames$.pipe(
        filter((f) => {
          const arp = arpOf(f);
          return arp !== undefined && arp.op === ArpOp.REPLY && arp.targetIp === STACK_IP;
        }),
        timeout(5000),
      ),
    );
    link.send(arpFrame(MAC_BROADCAST, STACK_MAC, {
      op: ArpOp.REQUEST, senderMac: STACK_MAC, senderIp: STACK_IP, targetMac: new Uint8Array(6), targetIp: HOST_IP,
    }));

    const answer = arpOf(await reply)!;
    assert.equal(formatMac(answer.senderMac), formatMac(kernelMac));
    assert.equal(formatIpv4(answer.senderIp), '198.18.0.1');
    assert.equal(formatMac(answer.targetMac), '02:00:00:00:00:02');

    const after = await peer().counters();
    assert.equal(after.rxPackets - before.rxPackets, 1, 'the kernel counted exactly our one frame');
    const neighbour = (await peer().neighbours()).find((n) => n.dst === '198.18.0.2');
    assert.equal(neighbour?.lladdr, '02:00:00:00:00:02');
  });

  it('answering the kernel\'s ARP request lets its queued UDP datagram through to us', async () => {
    const link = peer().attach();
    const kernelMac = link.device.macBytes;
    // Answer ARP for 198.18.0.2 as a host would; collect the first IPv4 frame.
    link.frames$.pipe(filter(isArpRequestFor(STACK_IP))).subscribe((frame) => {
      const request = arpOf(frame)!;
      link.send(arpFrame(kernelMac, STACK_MAC, {
        op: ArpOp.REPLY, senderMac: STACK_MAC, senderIp: STACK_IP,
        targetMac: request.senderMac.slice(), targetIp: request.senderIp,
      }));
    });
    const datagram = firstValueFrom(
      link.frames$.pipe(
        filter((f) => {
          const eth = parseEthernet(f);
          return eth.ok && eth.value.ethertype === EtherType.IPV4;
        }),
        timeout(5000),
      ),
    );
    await peer().python(SEND_UDP);
    const frame = await datagram;
    const eth = parseEthernet(frame);
    assert.ok(eth.ok);
    assert.equal(formatMac(eth.value.dst), '02:00:00:00:00:02', 'sent to the MAC we announced');
    const ip = eth.value.payload;
    assert.equal(ip[9], 17, 'UDP');
    assert.deepEqual([...ip.subarray(16, 20)], [198, 18, 0, 2]);
    const ihl = (ip[0] & 0x0f) * 4;
    assert.equal((ip[ihl + 2] << 8) | ip[ihl + 3], 9, 'destination port 9');
    assert.equal(Buffer.from(ip.subarray(ihl + 8)).toString(), 'hello from the kernel side');
  });

  it('frames that are ready together arrive together, in order, as one batch', async () => {
    // Open the device but read nothing yet, let the kernel queue ARP requests for 20 addresses,
    // then start reading: the first wake-up must drain them in one batch.
    const { TapDevice } = await import('../../streams/links/tap-device.js');
    const device = new TapDevice({ name: peer().tapName, netns: peer().netns, up: true });
    try {
      await peer().python(`import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(20):
    s.sendto(b'x', ('198.18.0.%d' % (100 + i), 9))`);
      const batches: Uint8Array[][] = [];
      device.onFrames((frames) => batches.push(frames));
      await waitUntil('20 ARP requests', () => batches.flat().filter((f) => arpOf(f) !== undefined).length >= 20, { timeoutMs: 3000 });
      const targets = batches.flat().map(arpOf).filter((a) => a !== undefined).map((a) => formatIpv4(a.targetIp));
      assert.deepEqual(targets.slice(0, 20), Array.from({ length: 20 }, (_, i) => `198.18.0.${100 + i}`));
      assert.ok(batches[0].length >= 20, `first batch held ${batches[0].length} frames`);
      // Each frame is its own view: they do not overlap.
      const [a, b] = batches[0];
      assert.ok(a.byteOffset + a.length <= b.byteOffset);
      const stats = device.stats();
      assert.ok(stats.rxBatches < stats.rxFrames, `rxBatches ${stats.rxBatches} < rxFrames ${stats.rxFrames}`);
    } finally {
      device.close();
    }
  });

  it('a frame we keep stays intact after later batches arrive', async () => {
    const link = peer().attach();
    let kept: Uint8Array | undefined;
    let copy: Uint8Array | undefined;
    const later: Uint8Array[] = [];
    const sub = link.frames$.subscribe((frame) => {
      const arp = arpOf(frame);
      if (arp === undefined || arp.op !== ArpOp.REQUEST) return;
      if (arp.targetIp !== STACK_IP) later.push(frame);
      else if (kept === undefined) {
        kept = frame;
        copy = frame.slice(); // what it held on arrival, in memory of our own
      }
    });
    try {
      await peer().python(SEND_UDP);
      await waitUntil('the ARP request for 198.18.0.2', () => kept !== undefined, { timeoutMs: 5000 });
      // Later batches of other frames of the same size: ARP requests for 20 other addresses.
      await peer().python(ARP_FOR_20);
      await waitUntil('20 later ARP requests', () => later.length >= 20, { timeoutMs: 5000 });
      assert.deepEqual(kept, copy, 'the kept frame holds, byte for byte, what it held on arrival');
      assert.equal(arpOf(kept!)?.targetIp, STACK_IP);
      assert.ok(later.every((f) => f !== kept && (f.buffer !== kept!.buffer || f.byteOffset >= kept!.byteOffset + kept!.length || f.byteOffset + f.length <= kept!.byteOffset)), 'no later frame overlaps it');
    } finally {
      sub.unsubscribe();
    }
  });
});
