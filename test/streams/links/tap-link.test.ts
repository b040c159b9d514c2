/**
 * tapLink as a Link: hot shared frames$, completion on close, errors on a fatal device failure.
 */
import assert from 'node:assert/strict';
import { firstValueFrom, timeout } from 'rxjs';
import { tapLink } from '../../../streams/links/tap-link.js';
import { waitFor } from '../../helpers/wait-for.js';
import { describeKernelPeer, useKernelPeer } from '../../helpers/netns.js';

const GARP = Uint8Array.from(Buffer.from(
  'ffffffffffff020000000002080600010800060400010200000000020c120002000000000000c6120002', 'hex'));

/** One UDP datagram to 198.18.0.<n>:9: the kernel broadcasts an ARP request for it. */
const poke = (n: number): string => `import socket
socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'x', ('198.18.0.${n}', 9))`;

describeKernelPeer('tapLink', () => {
  const peer = useKernelPeer({ tapName: 'rxlnk0' });

  it('describes the device: name, MTU at open, no MAC prescribed unless asked', () => {
    const link = tapLink({ name: 'rxlnk0', netns: peer().netns, mtu: 1400 });
    try {
      assert.equal(link.name, 'rxlnk0');
      assert.equal(link.mtu, 1400);
      assert.equal(link.mac, undefined);
      assert.equal(link.device.isUp, true, 'up by default');
    } finally {
      link.close();
    }
    const withMac = tapLink({ name: 'rxlnk0', netns: peer().netns, mac: '02:00:00:00:00:09' });
    try {
      assert.deepEqual([...withMac.mac!], [2, 0, 0, 0, 0, 9]);
      assert.notEqual(withMac.device.mac, '02:00:00:00:00:09', 'the device keeps its own MAC');
    } finally {
      withMac.close();
    }
  });

  it('frames$ is hot and shared: both subscribers get the same frame, a late one only later frames', async () => {
    const link = peer().attach();
    const seenA: Uint8Array[] = [];
    const seenB: Uint8Array[] = [];
    link.frames$.subscribe((f) => seenA.push(f));
    link.frames$.subscribe((f) => seenB.push(f));
    await peer().python(poke(50));
    await waitFor('a frame', () => (seenA.length > 0 ? true : undefined));
    assert.equal(seenA[0], seenB[0], 'one frame object, shared');
    const before = seenA.length;
    const late: Uint8Array[] = [];
    link.frames$.subscribe((f) => late.push(f));
    await peer().python(poke(51));
    // The ARP request for 198.18.0.51 (the kernel may also repeat the one for .50 meanwhile).
    const next = await waitFor('the ARP request for 198.18.0.51', () => late.find((f) => f[41] === 51));
    assert.ok(seenA.includes(next), 'the same frame object as the first subscribers got');
    const earlier = new Set(seenA.slice(0, before));
    assert.ok(late.every((f) => !earlier.has(f)), 'the late subscriber got none of the earlier frames');
  });

  it('close completes frames$, is idempotent, and later sends are dropped and counted', async () => {
    const link = peer().attach();
    let completed = false;
    link.frames$.subscribe({ complete: () => (completed = true) });
    link.send(GARP);
    await Promise.resolve(); // sends are written together at the end of the task
    assert.equal(link.stats().txFrames, 1);
    link.close();
    link.close();
    assert.equal(completed, true);
    link.send(GARP);
    assert.equal(link.stats().txAfterClose, 1);
    assert.ok(await peer().linkInfo(), 'a persistent device stays');
  });

  it('frames$ and failed$ error with the coded error when the device is deleted', async () => {
    const link = peer().attach();
    const failure = firstValueFrom(link.frames$.pipe(timeout(5000))).then(
      () => assert.fail('expected an error, got a frame'),
      (error: Error & { code?: string }) => error,
    );
    const failed = firstValueFrom(link.failed$.pipe(timeout(5000)), { defaultValue: undefined }).then(
      () => assert.fail('expected an error, got completion'),
      (error: Error & { code?: string }) => error,
    );
    await peer().ip(['link', 'del', 'rxlnk0']);
    const error = await failure;
    assert.equal(error.code, 'ENODEV');
    assert.equal((await failed).code, 'ENODEV');
    assert.equal(link.device.closed, true);
    link.send(GARP); // harmless after the failure
    link.close();
  });
});
