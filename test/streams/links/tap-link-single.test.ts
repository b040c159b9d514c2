/**
 * The TAP link's write of a task's (or inbound batch's) frames when the first is held alone
 * (tap-link.ts `single`): one frame is written by itself; a second one sent in the same task
 * puts the first in the lists ahead of it, so order and the ACK coalescer are as before. Over
 * fake devices (test/helpers/fake-tap-device.ts), which record every frame written.
 */
import assert from 'node:assert/strict';
import { deviceLink } from '../../../streams/links/tap-link.js';
import { TcpFlags, type TcpRepr } from '../../../src/wire/tcp.js';
import { parseIpv4 } from '../../../src/ipv4/address.js';
import { fakeDevicePair } from '../../helpers/fake-tap-device.js';
import { tcpIpv4Frame } from '../../helpers/tcp-ip-frames.js';

const A = parseIpv4('198.18.0.2')!;
const B = parseIpv4('198.18.0.1')!;
const LINK = { src: new Uint8Array([2, 0, 0, 0, 0, 2]), dst: new Uint8Array([2, 0, 0, 0, 0, 1]) };

function ack(n: number, payload = new Uint8Array(0)): Uint8Array {
  const repr: TcpRepr = { srcPort: 9, dstPort: 40000, seq: 1000, flags: TcpFlags.ACK, window: 1000, urgent: 0, ack: n, payload };
  return tcpIpv4Frame(repr, { src: A, dst: B, ident: 1, dontFragment: true, moreFragments: false }, LINK);
}

/** Resolves after the microtasks of the current task (the link's end-of-task flush) ran. */
const endOfTask = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('TAP link: the one frame of a task written alone', () => {
  for (const offload of [false, true]) {
    it(`writes one frame once, and frames sent together in order (offload ${offload})`, async () => {
      const [dev] = fakeDevicePair({ offload });
      const link = deviceLink(dev.asTapDevice(), { mac: undefined, coalesceAcks: true, layer: 'ethernet' });
      const one = ack(100, new Uint8Array([1]));
      link.send(one);
      assert.equal(dev.written.length, 0, 'written at the end of the task');
      await endOfTask();
      assert.equal(dev.written.length, 1);
      assert.deepEqual(dev.written[0].frame, one);
      const f = [ack(200, new Uint8Array([2])), ack(300, new Uint8Array([3])), ack(400, new Uint8Array([4]))];
      for (const x of f) link.send(x);
      await endOfTask();
      assert.deepEqual(dev.written.slice(1).map((w) => w.frame), f);
      link.close();
    });
  }

  it('a pure ACK held alone is still superseded by a later one of the same task', async () => {
    const [dev] = fakeDevicePair({ offload: false });
    const link = deviceLink(dev.asTapDevice(), { mac: undefined, coalesceAcks: true, layer: 'ethernet' });
    link.send(ack(1000));
    link.send(ack(2000));
    await endOfTask();
    assert.deepEqual(dev.written.map((w) => w.frame), [ack(2000)]);
    assert.equal(link.stats().txAcksCoalesced, 1);
    link.close();
  });

  it('close() writes the frame held alone (what was sent before close still goes out)', () => {
    const [dev] = fakeDevicePair({ offload: false });
    const link = deviceLink(dev.asTapDevice(), { mac: undefined, coalesceAcks: true, layer: 'ethernet' });
    const last = ack(7, new Uint8Array([7]));
    link.send(last);
    link.close();
    assert.deepEqual(dev.written.map((w) => w.frame), [last]);
  });
});
