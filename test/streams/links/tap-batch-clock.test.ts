/**
 * The time of a TAP batch (native/tap-read.c reads CLOCK_MONOTONIC when it hands a batch over,
 * through the handle's shared `wakeTime`): TapDevice.onFrames' `time`, and the stack's per-task
 * clock taking it for the batch (streams/stack/unref-scheduler.ts), against the real kernel.
 */
import assert from 'node:assert/strict';
import { TapDevice } from '../../../streams/links/tap-device.js';
import { deviceLink } from '../../../streams/links/tap-link.js';
import { TIME_ORIGIN } from '../../../streams/clock-base.js';
import { unrefScheduler } from '../../../streams/stack/unref-scheduler.js';
import { waitFor } from '../../helpers/wait-for.js';
import { describeKernelPeer, useKernelPeer } from '../../helpers/netns.js';
import { pyArpTrickle } from '../../helpers/py-arp-trickle.js';

const trickle = (count: number): string => pyArpTrickle(count, { intervalS: 0.01 });

const clockNow = (): number => TIME_ORIGIN + performance.now();

describeKernelPeer('TAP: the batch\'s time, read by the addon', () => {
  const peer = useKernelPeer({ tapName: 'rxclk0' });

  it('onFrames gets a time per batch: after the end of the batch before, not later than performance.now() in the callback, and close to it', async () => {
    const device = new TapDevice({ name: peer().tapName, netns: peer().netns });
    const seen: Array<{ time: number; at: number; endOfLast: number }> = [];
    let endOfLast = Number.NEGATIVE_INFINITY;
    try {
      device.onFrames((_frames, _headers, time) => {
        seen.push({ time, at: clockNow(), endOfLast });
        endOfLast = clockNow();
      });
      await peer().python(trickle(12));
      await waitFor('ARP requests from the kernel', () => (seen.length >= 5 ? true : undefined));
    } finally {
      device.close();
    }
    for (const { time, at, endOfLast: before } of seen) {
      assert.ok(time <= at, `not later than performance.now() in the callback (${time - at} ms)`);
      assert.ok(at - time < 50, `read when the batch was handed over, not long before (${at - time} ms)`);
      assert.ok(time >= before, `read afresh for each batch: after the batch before had ended (${time - before} ms)`);
    }
  });

  it('the stack\'s clock reads the batch\'s time within the batch (no reading of its own)', async () => {
    const device = new TapDevice({ name: peer().tapName, netns: peer().netns });
    // The device's callback, wrapped before the link takes it: the time each batch brings.
    const times: number[] = [];
    const onFrames = device.onFrames.bind(device);
    device.onFrames = (callback) =>
      onFrames((frames, headers, time, slab) => {
        times.push(time);
        callback(frames, headers, time, slab);
      });
    const link = deviceLink(device, { mac: undefined, coalesceAcks: false, layer: 'ethernet' });
    const readings: Array<{ now: number; batch: number }> = [];
    const sub = link.frames$.subscribe(() => {
      readings.push({ now: unrefScheduler.now(), batch: times.length });
    });
    try {
      await new Promise((resolve) => setImmediate(resolve)); // no reading left from this task
      await peer().python(trickle(6));
      await waitFor('ARP requests from the kernel', () => (readings.length >= 3 ? true : undefined));
    } finally {
      sub.unsubscribe();
      link.close();
    }
    for (const { now, batch } of readings) assert.equal(now, times[batch - 1], 'the batch\'s time is the stack\'s reading');
    for (let i = 1; i < readings.length; i++) assert.ok(readings[i].now >= readings[i - 1].now, 'monotonic');
  });
});
