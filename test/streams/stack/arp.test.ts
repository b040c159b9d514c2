import assert from 'node:assert/strict';
import { catchError, defer, EMPTY, filter, map, of, Subject, VirtualTimeScheduler, type SchedulerLike } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { createMemoryWire } from '../../../streams/links/memory-wire.js';
import { createStack, type Stack } from '../../../streams/stack/create-stack.js';
import { parseEthernet, EtherType } from '../../../src/wire/ethernet.js';
import { parseArp, ArpOp } from '../../../src/wire/arp.js';
import { PacketBuffer } from '../../../src/packet-buffer.js';
import { formatMac, MAC_ZERO } from '../../../src/mac.js';
import type { NetstackError } from '../../../src/errors.js';
import { ArpLayer } from '../../../streams/stack/arp-layer.js';
import type { EthernetOut } from '../../../streams/stack/ethernet-layer.js';
import type { NetInterface } from '../../../streams/stack/net-interface.js';
import {
  rawPeer, advance, arpFrame, arpRequest, ethFrame, ip, mac, stat,
  STACK_IP, STACK_MAC, PEER_IP, PEER_MAC,
} from './raw-peer.js';

function newScheduler(): TestScheduler {
  return new TestScheduler((actual, expected) => assert.deepStrictEqual(actual, expected));
}

/** A datagram of an unused protocol (253, RFC 3692 experimentation) carrying `tag`. */
function sendTagged(stack: Stack, dst: string, tag: number, onError?: (err: NetstackError) => void): NetstackError | undefined {
  return stack.ipv4.send(PacketBuffer.withPayload(new Uint8Array([tag, 0, 0, 0])), { dst: ip(dst), protocol: 253 }, onError);
}

describe('stack: ARP', () => {
  describe('in virtual time (marbles)', () => {
    it('retries 3 times 1 s apart, then fails every queued packet with EHOSTUNREACH at 3 s', () => {
      const ts = newScheduler();
      const failures: [number, string][] = [];
      let stack: Stack | undefined;
      ts.run(({ expectObservable }) => {
        const [peerEnd, stackEnd] = createMemoryWire({ scheduler: ts, macs: [PEER_MAC, STACK_MAC] });
        // Requests for 198.18.0.77 as the peer sees them (the gratuitous ARP at start is not one).
        const requests$ = peerEnd.frames$.pipe(
          map((f) => {
            const e = parseEthernet(f);
            const a = e.ok && e.value.ethertype === EtherType.ARP ? parseArp(e.value.payload) : undefined;
            return a?.ok && a.value.op === ArpOp.REQUEST && a.value.targetIp === ip('198.18.0.77') ? (e.ok && (e.value.dst[0] & 1) === 1 ? 'r' : 'u') : '';
          }),
          filter((k) => k !== ''),
        );
        const until = '^ 9999ms !';
        expectObservable(requests$, until).toBe('r 999ms r 999ms r');
        // Created after the subscription above (same frame, scheduled later).
        ts.schedule(() => {
          stack = createStack({ interfaces: [{ name: 'eth0', link: stackEnd, mac: STACK_MAC, ipv4: [`${STACK_IP}/24`] }] }, { scheduler: ts });
        }, 0);
        expectObservable(
          defer(() => (stack as Stack).arp.changes$).pipe(map((c) => `${c.change.kind}:${c.change.entry.state}:${c.change.kind === 'removed' ? c.change.reason : ''}`)),
          until,
        ).toBe('a 2999ms f', { a: 'added:incomplete:', f: 'removed:incomplete:failed' });
        // A ping (timeout longer than ARP's patience) and three more packets queue behind the resolution.
        expectObservable(
          defer(() => (stack as Stack).icmp.ping('198.18.0.77', { timeout: 10_000 })).pipe(catchError((e: NetstackError) => of(e.code))),
        ).toBe('3000ms (e|)', { e: 'EHOSTUNREACH' });
        for (const [at, tag] of [[0, 1], [100, 2], [2999, 3]]) {
          ts.schedule(() => sendTagged(stack as Stack, '198.18.0.77', tag, (err) => failures.push([ts.now(), err.code])), at);
        }
      });
      assert.deepEqual(failures, [[3000, 'EHOSTUNREACH'], [3000, 'EHOSTUNREACH'], [3000, 'EHOSTUNREACH']]);
      const s = stack as Stack;
      assert.equal(stat(s, 'neighbors:eth0', 'requestsSent'), 3);
      assert.equal(stat(s, 'neighbors:eth0', 'failed'), 1);
      assert.equal(stat(s, 'arp:eth0', 'drops', 'unresolved'), 4, 'the ping and the three datagrams');
      assert.deepEqual(s.arp.entries(), [], 'a failed resolution leaves no entry');
      s.close();
    });

    it('changes$: learned, stale after reachableTimeMs, re-validated by a unicast request on use, expired', () => {
      const ts = newScheduler();
      let peer: ReturnType<typeof rawPeer> | undefined;
      ts.run(({ expectObservable }) => {
        ts.schedule(() => {
          peer = rawPeer({ scheduler: ts });
        }, 0);
        const kinds = { a: 'added:reachable', s: 'updated:stale', r: 'updated:reachable', x: 'removed:stale' };
        expectObservable(defer(() => (peer as ReturnType<typeof rawPeer>).stack.arp.changes$).pipe(map((c) => `${c.change.kind}:${c.change.entry.state}`)))
          .toBe('a 29999ms s 9999ms r 29999ms s 29999ms x', kinds);
        // The kernel asks for us: we learn it from its request (RFC 826 merge rule, target is ours).
        ts.schedule(() => peer?.send(arpRequest(PEER_IP, PEER_MAC, STACK_IP)), 0);
        // Using the stale entry at 40 s: sent at once to the known MAC, plus a unicast re-validation.
        ts.schedule(() => sendTagged((peer as ReturnType<typeof rawPeer>).stack, PEER_IP, 9), 40_000);
      });
      const p = peer as ReturnType<typeof rawPeer>;
      const requests = p.arp(ArpOp.REQUEST).filter((s) => s.arp?.senderIp !== s.arp?.targetIp);
      assert.equal(requests.length, 1);
      assert.equal(requests[0].at, 40_000);
      assert.equal(formatMac(requests[0].eth.dst), PEER_MAC, 're-validation is unicast to the known MAC');
      const data = p.seen.filter((s) => s.ipv4?.protocol === 253);
      assert.equal(data.length, 1);
      assert.equal(data[0].at, 40_000, 'a stale entry does not hold the packet back');
      assert.equal(formatMac(data[0].eth.dst), PEER_MAC);
      p.close();
    });
  });

  it('a reachable neighbour is used without a clock read per packet; the timer makes it stale at reachableTimeMs (virtual time)', () => {
    const vts = new VirtualTimeScheduler();
    let reads = 0;
    const scheduler: SchedulerLike = {
      now: () => {
        reads++;
        return vts.now();
      },
      schedule: vts.schedule.bind(vts) as SchedulerLike['schedule'],
    };
    const iface = {
      name: 'eth0',
      mac: mac(STACK_MAC),
      hasAddress: (a: number) => a === ip(STACK_IP),
      isDirectedBroadcast: () => false,
      sourceFor: () => ip(STACK_IP),
    } as unknown as NetInterface;
    const arpIn = new Subject<Uint8Array>();
    const arpOut: EthernetOut[] = [];
    const sent: Array<{ at: number; dst: string }> = [];
    const layer = new ArpLayer(iface, { up$: arpIn, down: { next: (o: EthernetOut) => arpOut.push(o) } }, scheduler, {});
    layer.start();
    const down = layer.resolver({ up$: EMPTY, down: { next: (o: EthernetOut) => sent.push({ at: vts.now(), dst: formatMac(o.dst) }) } }).down;
    const send = (): void => down.next({ nextHop: ip(PEER_IP), pb: PacketBuffer.withPayload(new Uint8Array(20)), onError: undefined });
    arpIn.next(arpRequest(PEER_IP, PEER_MAC, STACK_IP)); // learned at 0: reachable until 30 s
    arpOut.length = 0; // our reply
    reads = 0;
    for (let i = 0; i < 100; i++) send();
    assert.equal(reads, 0, 'no clock read for a reachable neighbour');
    assert.equal(sent.length, 100);
    const states: string[] = [];
    const sendAndLook = (): void => {
      send();
      states.push(layer.entries()[0].state);
    };
    vts.schedule(sendAndLook, 29_999);
    vts.schedule(sendAndLook, 30_001);
    vts.flush();
    layer.close();
    assert.deepEqual(sent.slice(100), [{ at: 29_999, dst: PEER_MAC }, { at: 30_001, dst: PEER_MAC }], 'sent at once either way');
    // Past the reachable time the timer turned the entry stale: that use re-validated it with a
    // unicast request (RFC 1122 2.3.2.1), and only that one.
    assert.equal(arpOut.length, 1);
    assert.equal(formatMac(arpOut[0].dst), PEER_MAC);
    assert.deepEqual(states, ['reachable', 'stale']);
    assert.deepEqual(layer.entries(), [], 'removed at expireTimeMs (60 s), unconfirmed');
  });

  it('sends a gratuitous ARP for every address at start', () => {
    const ts = newScheduler();
    const p = rawPeer({ scheduler: ts, addresses: ['198.18.0.2/24', '198.18.0.3/24'] });
    advance(ts, 0);
    const g = p.arp(ArpOp.REQUEST);
    assert.equal(g.length, 2);
    for (const [i, addr] of ['198.18.0.2', '198.18.0.3'].entries()) {
      const s = g[i];
      assert.equal(s.at, 0);
      assert.equal(formatMac(s.eth.dst), 'ff:ff:ff:ff:ff:ff');
      assert.equal(formatMac(s.eth.src), STACK_MAC);
      assert.equal(formatMac(s.arp?.senderMac ?? MAC_ZERO), STACK_MAC);
      assert.equal(s.arp?.senderIp, ip(addr));
      assert.equal(s.arp?.targetIp, ip(addr), 'RFC 5227 announcement: sender and target address are both ours');
      assert.deepEqual(s.arp?.targetMac, MAC_ZERO);
    }
    assert.equal(stat(p.stack, 'arp:eth0', 'txGratuitous'), 2);
    p.close();
  });

  it('answers a broadcast request for our address, unicast to the asker, and learns the asker', () => {
    const ts = newScheduler();
    const p = rawPeer({ scheduler: ts });
    p.send(arpRequest('198.18.0.5', '02:00:00:00:00:05', STACK_IP));
    advance(ts, 1);
    const replies = p.arp(ArpOp.REPLY);
    assert.equal(replies.length, 1);
    const r = replies[0];
    assert.equal(formatMac(r.eth.dst), '02:00:00:00:00:05');
    assert.equal(formatMac(r.eth.src), STACK_MAC);
    assert.equal(formatMac(r.arp?.senderMac ?? MAC_ZERO), STACK_MAC);
    assert.equal(r.arp?.senderIp, ip(STACK_IP));
    assert.equal(formatMac(r.arp?.targetMac ?? MAC_ZERO), '02:00:00:00:00:05');
    assert.equal(r.arp?.targetIp, ip('198.18.0.5'));
    assert.deepEqual(p.stack.arp.entries(), [{ interface: 'eth0', ip: '198.18.0.5', mac: '02:00:00:00:00:05', state: 'reachable' }]);
    assert.equal(stat(p.stack, 'arp:eth0', 'rxRequests'), 1);
    assert.equal(stat(p.stack, 'arp:eth0', 'txReplies'), 1);
    p.close();
  });

  it('answers unicast requests (Linux re-validates neighbours that way)', () => {
    const ts = newScheduler();
    const p = rawPeer({ scheduler: ts });
    p.send(arpRequest(PEER_IP, PEER_MAC, STACK_IP, { ethDst: STACK_MAC, targetMac: STACK_MAC }));
    advance(ts, 1);
    const replies = p.arp(ArpOp.REPLY);
    assert.equal(replies.length, 1);
    assert.equal(formatMac(replies[0].eth.dst), PEER_MAC);
    assert.equal(replies[0].arp?.senderIp, ip(STACK_IP));
    p.close();
  });

  it('answers an RFC 5227 probe (sender 0.0.0.0) without learning from it', () => {
    const ts = newScheduler();
    const p = rawPeer({ scheduler: ts });
    p.send(arpRequest('0.0.0.0', '02:00:00:00:00:05', STACK_IP));
    advance(ts, 1);
    const replies = p.arp(ArpOp.REPLY);
    assert.equal(replies.length, 1);
    assert.equal(formatMac(replies[0].eth.dst), '02:00:00:00:00:05');
    assert.equal(replies[0].arp?.targetIp, 0);
    assert.deepEqual(p.stack.arp.entries(), []);
    p.close();
  });

  it('merge rule: ignores requests for others, but updates a known sender from any ARP packet', () => {
    const ts = newScheduler();
    const p = rawPeer({ scheduler: ts });
    // For somebody else: no answer, and the sender is not added.
    p.send(arpRequest('198.18.0.5', '02:00:00:00:00:05', '198.18.0.99'));
    advance(ts, 1);
    assert.equal(p.arp(ArpOp.REPLY).length, 0);
    assert.deepEqual(p.stack.arp.entries(), []);
    // For us: added.
    p.send(arpRequest('198.18.0.5', '02:00:00:00:00:05', STACK_IP));
    advance(ts, 1);
    assert.equal(p.stack.arp.entries()[0]?.mac, '02:00:00:00:00:05');
    // Its gratuitous ARP with a new MAC (target not ours): a known sender is updated.
    const changes: string[] = [];
    const sub = p.stack.arp.changes$.subscribe((c) => changes.push(`${c.change.kind} ${c.change.entry.mac && formatMac(c.change.entry.mac)}`));
    p.send(arpRequest('198.18.0.5', '02:00:00:00:00:55', '198.18.0.5'));
    advance(ts, 1);
    assert.deepEqual(p.stack.arp.entries(), [{ interface: 'eth0', ip: '198.18.0.5', mac: '02:00:00:00:00:55', state: 'reachable' }]);
    assert.deepEqual(changes, ['updated 02:00:00:00:00:55']);
    sub.unsubscribe();
    p.close();
  });

  it('learns nothing from (and does not answer) an ARP packet claiming our own address', () => {
    const ts = newScheduler();
    const p = rawPeer({ scheduler: ts });
    p.send(arpRequest(STACK_IP, '02:00:00:00:00:66', STACK_IP));
    p.send(arpRequest(STACK_IP, '02:00:00:00:00:66', PEER_IP));
    advance(ts, 1);
    assert.deepEqual(p.stack.arp.entries(), []);
    assert.equal(p.arp(ArpOp.REPLY).length, 0);
    p.close();
  });

  it('drops and counts malformed ARP packets', () => {
    const ts = newScheduler();
    const p = rawPeer({ scheduler: ts });
    const good = arpRequest(PEER_IP, PEER_MAC, STACK_IP);
    p.send(good.subarray(0, 14 + 20).slice()); // truncated
    const badHw = good.slice();
    badHw[14 + 1] = 6; // hardware type 6 (IEEE 802)
    p.send(badHw);
    const badOp = good.slice();
    badOp[14 + 7] = 3; // RARP request
    p.send(badOp);
    advance(ts, 1);
    assert.equal(stat(p.stack, 'arp:eth0', 'drops', 'truncated'), 1);
    assert.equal(stat(p.stack, 'arp:eth0', 'drops', 'badHardwareType'), 1);
    assert.equal(stat(p.stack, 'arp:eth0', 'drops', 'unknownOp'), 1);
    assert.equal(p.arp(ArpOp.REPLY).length, 0);
    assert.deepEqual(p.stack.arp.entries(), []);
    p.close();
  });

  it('queues packets during resolution and sends them in order once the reply comes', () => {
    const ts = newScheduler();
    const p = rawPeer({ scheduler: ts, answerArpFor: [] });
    sendTagged(p.stack, PEER_IP, 1);
    advance(ts, 100);
    sendTagged(p.stack, PEER_IP, 2);
    advance(ts, 100);
    sendTagged(p.stack, PEER_IP, 3);
    advance(ts, 300);
    assert.equal(p.seen.filter((s) => s.ipv4).length, 0, 'nothing leaves before the MAC is known');
    p.send(arpFrame({ op: ArpOp.REPLY, senderMac: mac(PEER_MAC), senderIp: ip(PEER_IP), targetMac: mac(STACK_MAC), targetIp: ip(STACK_IP) }, mac(STACK_MAC)));
    advance(ts, 1);
    const data = p.seen.filter((s) => s.ipv4?.protocol === 253);
    assert.deepEqual(data.map((s) => s.ipv4?.payload[0]), [1, 2, 3]);
    for (const s of data) {
      assert.equal(s.at, 500);
      assert.equal(formatMac(s.eth.dst), PEER_MAC);
    }
    assert.equal(p.arp(ArpOp.REQUEST).filter((s) => s.arp?.targetIp === ip(PEER_IP)).length, 1, 'one request: the reply came before the retry');
    p.close();
  });

  it('a packet whose payload is only lent (PacketBuffer.tail, a large TCP segment\'s) is copied when it waits: it leaves with the bytes it had', () => {
    const ts = newScheduler();
    const p = rawPeer({ scheduler: ts, answerArpFor: [] });
    const lent = new Uint8Array([7, 8, 9, 10]);
    const pb = PacketBuffer.alloc(0);
    pb.tail = lent;
    p.stack.ipv4.send(pb, { dst: ip(PEER_IP), protocol: 253 });
    lent.fill(0xee); // the lender reuses its bytes once the send returned
    advance(ts, 100);
    p.send(arpFrame({ op: ArpOp.REPLY, senderMac: mac(PEER_MAC), senderIp: ip(PEER_IP), targetMac: mac(STACK_MAC), targetIp: ip(STACK_IP) }, mac(STACK_MAC)));
    advance(ts, 1);
    const data = p.seen.filter((s) => s.ipv4?.protocol === 253);
    assert.equal(data.length, 1);
    assert.deepEqual([...data[0].ipv4!.payload], [7, 8, 9, 10]);
    p.close();
  });

  it('bounds the queue per destination: the oldest packet is dropped with ENOBUFS', () => {
    const ts = newScheduler();
    const p = rawPeer({ scheduler: ts, answerArpFor: [], config: { arp: { maxQueuePerDestination: 2 } } });
    const errors: string[][] = [[], [], []];
    for (const tag of [0, 1, 2]) sendTagged(p.stack, PEER_IP, tag, (e) => errors[tag].push(e.code));
    assert.deepEqual(errors, [['ENOBUFS'], [], []]);
    assert.equal(stat(p.stack, 'arp:eth0', 'drops', 'queueFull'), 1);
    p.send(arpFrame({ op: ArpOp.REPLY, senderMac: mac(PEER_MAC), senderIp: ip(PEER_IP), targetMac: mac(STACK_MAC), targetIp: ip(STACK_IP) }, mac(STACK_MAC)));
    advance(ts, 1);
    assert.deepEqual(p.seen.filter((s) => s.ipv4?.protocol === 253).map((s) => s.ipv4?.payload[0]), [1, 2]);
    p.close();
  });

  it('a resolution the request rate limit refuses still fails after maxRequests intervals', () => {
    const ts = newScheduler();
    // One token, never refilled: the first resolution takes it.
    const p = rawPeer({ scheduler: ts, config: { arp: { requestRatePerSecond: 0, requestBurst: 1 } } });
    sendTagged(p.stack, PEER_IP, 1);
    // Long enough that the only timer left armed is the peer entry's aging (at 30 s).
    advance(ts, 5_000);
    assert.equal(p.seen.filter((s) => s.ipv4?.protocol === 253).length, 1, 'the first resolution worked');
    let failedAt: number | undefined;
    sendTagged(p.stack, '198.18.0.77', 2, () => (failedAt = ts.now()));
    advance(ts, 60_000);
    assert.equal(failedAt, 8_000, 'fails maxRequests * retransmitIntervalMs after the packet, not at some later unrelated timer');
    assert.equal(p.arp(ArpOp.REQUEST).filter((s) => s.arp?.targetIp === ip('198.18.0.77')).length, 0, 'no request was allowed out');
    assert.equal(stat(p.stack, 'neighbors:eth0', 'requestsRateLimited'), 3);
    p.close();
  });

  describe('static entries', () => {
    it('are used without ARP, never overwritten by ARP traffic, never expire', () => {
      const ts = newScheduler();
      const p = rawPeer({ scheduler: ts });
      const changes: string[] = [];
      const sub = p.stack.arp.changes$.subscribe((c) => changes.push(`${c.change.kind}:${c.change.entry.state}`));
      p.stack.arp.addStatic('198.18.0.9', '02:00:00:00:00:09');
      sendTagged(p.stack, '198.18.0.9', 7);
      advance(ts, 1);
      const data = p.seen.filter((s) => s.ipv4?.protocol === 253);
      assert.equal(data.length, 1);
      assert.equal(formatMac(data[0].eth.dst), '02:00:00:00:00:09');
      assert.equal(p.arp(ArpOp.REQUEST).filter((s) => s.arp?.targetIp === ip('198.18.0.9')).length, 0);
      // Somebody claims 198.18.0.9 at another MAC, by request and by reply.
      p.send(arpRequest('198.18.0.9', '02:00:00:00:00:aa', STACK_IP));
      p.send(arpFrame({ op: ArpOp.REPLY, senderMac: mac('02:00:00:00:00:aa'), senderIp: ip('198.18.0.9'), targetMac: mac(STACK_MAC), targetIp: ip(STACK_IP) }, mac(STACK_MAC)));
      advance(ts, 10 * 60_000);
      assert.deepEqual(p.stack.arp.entries(), [{ interface: 'eth0', ip: '198.18.0.9', mac: '02:00:00:00:00:09', state: 'static' }]);
      assert.deepEqual(changes, ['added:static']);
      sub.unsubscribe();
      p.close();
    });

    it('release packets waiting for that address', () => {
      const ts = newScheduler();
      const p = rawPeer({ scheduler: ts, answerArpFor: [] });
      let failed = false;
      sendTagged(p.stack, '198.18.0.10', 4, () => (failed = true));
      advance(ts, 500);
      p.stack.arp.addStatic('198.18.0.10', '02:00:00:00:00:10');
      advance(ts, 10_000);
      const data = p.seen.filter((s) => s.ipv4?.protocol === 253);
      assert.equal(data.length, 1);
      assert.equal(data[0].at, 500);
      assert.equal(formatMac(data[0].eth.dst), '02:00:00:00:00:10');
      assert.equal(failed, false);
      p.close();
    });

    it('reject bad arguments naming each', () => {
      const p = rawPeer();
      assert.throws(() => p.stack.arp.addStatic('198.18.0.300', 'zz:00'), (err: NetstackError) =>
        err.code === 'ERR_INVALID_ARG_VALUE' && /ip: "198\.18\.0\.300"/.test(err.message) && /mac: "zz:00"/.test(err.message));
      assert.throws(() => p.stack.arp.addStatic('198.18.0.9', '02:00:00:00:00:09', 'eth9'), (err: NetstackError) =>
        err.code === 'ERR_INVALID_ARG_VALUE' && /eth9/.test(err.message));
      p.close();
    });
  });

  it('never answers for an address it does not have, even in a frame to its MAC', () => {
    const ts = newScheduler();
    const p = rawPeer({ scheduler: ts });
    p.send(ethFrame(STACK_MAC, PEER_MAC, EtherType.ARP, arpRequest(PEER_IP, PEER_MAC, '198.18.0.3').subarray(14)));
    advance(ts, 1);
    assert.equal(p.arp(ArpOp.REPLY).length, 0);
    p.close();
  });
});
