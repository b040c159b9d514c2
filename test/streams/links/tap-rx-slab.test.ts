/**
 * The addon reads frames straight into receive slabs that JavaScript owns (native/rx-slab.h)
 * and reuses a slab only after the garbage collector has freed every view of it. Here: frames
 * kept across many slabs stay intact while later traffic and allocation pressure make the
 * collector recycle the slabs of frames that were dropped.
 */
import assert from 'node:assert/strict';
import { TapDevice } from '../../../streams/links/tap-device.js';
import { describeKernelPeer, useKernelPeer } from '../../helpers/netns.js';
import { waitFor } from '../../helpers/wait-for.js';

const STACK_MAC = '02:00:00:00:00:02';
const SIZE = 1400;

/** UDP to 198.18.0.2:9 (resolved to our MAC by a permanent neighbour), seq in the first 4 bytes. */
const sender = (first: number, count: number): string => `import socket, time
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(${first}, ${first + count}):
    b = bytes(((i * 7 + j) & 0xff) for j in range(${SIZE}))
    u.sendto(i.to_bytes(4, 'big') + b[4:], ('198.18.0.2', 9))
    if i % 100 == 99:
        time.sleep(0.002)  # the TAP queue holds 1000 frames: stay well under
`;

/** The datagram payload of a frame (Ethernet 14 + IPv4 20 + UDP 8), or undefined. */
function payload(f: Uint8Array): Uint8Array | undefined {
  if (f.length !== 42 + SIZE || f[23] !== 17) return undefined;
  return f.subarray(42);
}

function intact(p: Uint8Array): boolean {
  const i = ((p[0] << 24) | (p[1] << 16) | (p[2] << 8) | p[3]) >>> 0;
  for (let j = 4; j < SIZE; j += 97) if (p[j] !== ((i * 7 + j) & 0xff)) return false;
  return p[SIZE - 1] === ((i * 7 + SIZE - 1) & 0xff);
}

describeKernelPeer('TAP receive slabs', function () {
  this.timeout(60_000);
  const peer = useKernelPeer({ tapName: 'rxslab0' });

  for (const offload of [false, true]) {
    it(`kept frames stay intact while dropped ones' slabs are recycled (offload ${offload})`, async () => {
      await peer().ip(['neigh', 'replace', '198.18.0.2', 'lladdr', STACK_MAC, 'dev', 'rxslab0', 'nud', 'permanent']);
      const tap = new TapDevice({ name: 'rxslab0', netns: peer().netns, offload });
      try {
        const kept: Uint8Array[] = [];
        let dropped = 0;
        let keep = false;
        tap.onFrames((frames) => {
          for (const f of frames) {
            const p = payload(f);
            if (p === undefined) continue;
            if (keep) kept.push(p);
            else dropped++;
          }
        });
        // 1: 3,000 frames (~4 MB, three slabs) seen and dropped.
        await peer().python(sender(0, 3000), [], { timeoutMs: 30_000 });
        await waitFor('the first frames', () => (dropped >= 2900 ? true : undefined), { timeoutMs: 10_000 });
        // 2: 3,000 frames kept.
        keep = true;
        await peer().python(sender(10_000, 3000), [], { timeoutMs: 30_000 });
        await waitFor('the kept frames', () => (kept.length >= 2900 ? true : undefined), { timeoutMs: 10_000 });
        keep = false;
        // 3: allocation pressure (the collector frees the first slabs) and more traffic that
        // lands in recycled slabs.
        let garbage: Uint8Array[] = [];
        for (let round = 0; round < 4; round++) {
          for (let k = 0; k < 200; k++) garbage.push(new Uint8Array(256 * 1024));
          garbage = [];
          await peer().python(sender(20_000 + round * 2000, 2000), [], { timeoutMs: 30_000 });
        }
        await waitFor('the last frames', () => (dropped >= 2900 + 7000 ? true : undefined), { timeoutMs: 10_000 });
        const broken = kept.filter((p) => !intact(p)).length;
        assert.equal(broken, 0, `${broken} of ${kept.length} kept frames were overwritten`);
        assert.ok(kept.every((p) => p[0] === 0 && ((p[1] << 16 | p[2] << 8 | p[3]) >= 10_000)), 'kept frames are those of phase 2');
      } finally {
        tap.close();
      }
    });
  }
});
