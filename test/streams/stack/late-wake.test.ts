/**
 * Timers held up past their time read the links first (streams/stack/late-wake.ts): an answer
 * that reached the device while the event loop was busy is delivered before the timer that
 * waits for it decides. Two stacks on fake TAP devices; the client's device holds what arrives
 * (no wake-up delivers it) until the link drains it, as a real device's input waits for the
 * loop's poll, which Node runs after the due timers.
 */
import assert from 'node:assert/strict';
import { firstValueFrom, lastValueFrom, take, toArray } from 'rxjs';
import { createStack, type Stack } from '../../../streams/stack/create-stack.js';
import { deviceLink } from '../../../streams/links/tap-link.js';
import { fakeDevicePair, type FakeDevice } from '../../helpers/fake-tap-device.js';
import { useCloseAfterEach } from '../../helpers/close-after-each.js';

/** Holds the event loop for `ms` (a synchronous task): timers come due, nothing is polled. */
function holdLoop(ms: number): void {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    // busy
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('stack/late wake-ups: held-up input read before the timers', () => {
  const closeAfterTest = useCloseAfterEach<Stack>();

  function pair(arp?: { maxRequests: number; retransmitIntervalMs: number }): { da: FakeDevice; client: Stack; server: Stack } {
    const [da, db] = fakeDevicePair({ offload: true });
    const la = deviceLink(da.asTapDevice(), { mac: undefined, coalesceAcks: undefined, layer: 'ethernet' });
    const lb = deviceLink(db.asTapDevice(), { mac: undefined, coalesceAcks: undefined, layer: 'ethernet' });
    const client = closeAfterTest(createStack({ interfaces: [{ name: 'if0', link: la, mac: '02:00:00:00:00:01', ipv4: ['198.18.0.1/24'] }], ...(arp === undefined ? {} : { arp }) }));
    const server = closeAfterTest(createStack({ interfaces: [{ name: 'if0', link: lb, mac: '02:00:00:00:00:02', ipv4: ['198.18.0.2/24'] }] }));
    return { da, client, server };
  }

  it('a ping whose reply waits in the device while the loop is held past its timeout gets the reply, not ETIMEDOUT', async () => {
    const { da, client } = pair();
    await lastValueFrom(client.icmp.ping('198.18.0.2', { count: 1, timeout: 1000 })); // ARP resolved
    da.holdDelivery(true);
    const reply = firstValueFrom(client.icmp.ping('198.18.0.2', { count: 1, timeout: 50 }));
    await sleep(10);
    assert.equal(da.waiting, 1, 'the echo reply is in the device, not delivered');
    holdLoop(150);
    const r = await reply;
    assert.equal(r.from, '198.18.0.2');
    assert.equal(r.seq, 0);
    assert.equal(da.waiting, 0, 'the timer drained the device');
    da.holdDelivery(false);
  });

  it('a ping still times out when the loop is held and no reply came', async () => {
    const { da, client } = pair();
    await lastValueFrom(client.icmp.ping('198.18.0.2', { count: 1, timeout: 1000 }));
    da.holdDelivery(true);
    const reply = firstValueFrom(client.icmp.ping('198.18.0.9', { count: 1, timeout: 50 }));
    reply.catch(() => undefined);
    await sleep(10);
    holdLoop(150);
    await assert.rejects(reply, (err: NodeJS.ErrnoException) => err.code === 'EHOSTUNREACH' || err.code === 'ETIMEDOUT');
    da.holdDelivery(false);
  });

  it('an ARP resolution whose reply waits in the device while the loop is held past its last retry resolves, and the datagram goes', async () => {
    const { da, client, server } = pair({ maxRequests: 1, retransmitIntervalMs: 30 });
    const received = firstValueFrom(server.udp.bind({ port: 9 }).datagrams$.pipe(take(1), toArray()));
    const sock = client.udp.bind({ port: 0 });
    da.holdDelivery(true);
    sock.send(new Uint8Array([7, 7]), { address: '198.18.0.2', port: 9 });
    await sleep(5);
    assert.ok(da.waiting >= 1, 'the ARP reply is in the device, not delivered (beside the server\'s gratuitous ARP)');
    holdLoop(120); // past the resolution's lifetime (1 request x 30 ms)
    const [d] = await received;
    assert.deepEqual([...d.payload], [7, 7]);
    assert.equal(client.stats()['neighbors:if0'].failed, 0, 'no failed resolution counted');
    da.holdDelivery(false);
  });
});
