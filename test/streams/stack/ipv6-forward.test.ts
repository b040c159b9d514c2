/**
 * The forwarders over IPv6 (memory wire): a client whose IPv6 default route goes through the
 * gateway, which forwards; FAR_IP6 belongs to nobody. The IPv4 twins are tcp-forward,
 * udp-forward and icmp-forward.test.ts.
 */
import assert from 'node:assert/strict';
import { firstValueFrom, lastValueFrom, mergeMap, take, tap, toArray } from 'rxjs';
import { checkForwardedEcho, forwardPair, CLIENT_IP6, FAR_IP6, FAR_IP, GATEWAY_IP6 } from './forward-pair.js';
import type { EchoForwardRequest } from '../../../streams/stack/icmp-echo-forwarder.js';
import { stat } from './raw-peer.js';
import { waitFor } from '../../helpers/wait-for.js';
import { pattern, concat, codeOf } from './tcp-helpers.js';
import { formatIpv6, parseIpv6 } from '../../../src/ipv6/address.js';
import type { UdpForwardSession } from '../../../streams/stack/udp-forwarder.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const dec = (b: Uint8Array): string => new TextDecoder().decode(b);

describe('stack: forwarders over IPv6', () => {
  describe('TCP', () => {
    it('accepts a connection to an IPv6 address that is not the stack\'s, as that address, and relays byte-exact', async () => {
      const p = forwardPair({ ipv6: true });
      try {
        await checkForwardedEcho(p, FAR_IP6, CLIENT_IP6, 'ipv6', async () => {
          // The forwarded connection held the far address while it lived, and gave it back after.
          await waitFor('the gateway side closed', () => (p.gateway.tcpLayer.connections().length === 0 ? true : undefined));
          const book = p.gateway.tcpLayer.book;
          assert.equal(book.idOf(parseIpv6(FAR_IP6)!), undefined, 'the far address is not held any more');
          assert.equal(book.idOf(parseIpv6(CLIENT_IP6)!), undefined, 'nor the client');
          // IPv4 goes on being forwarded by the same subscription.
          const c4 = await firstValueFrom(p.client.tcp.connect({ address: FAR_IP, port: 80 }));
          assert.equal(c4.remoteAddress, FAR_IP);
          c4.destroy();
        });
      } finally {
        p.close();
      }
    });

    it('refusals: rst is ECONNREFUSED; ICMPv6 unreachable codes give EHOSTUNREACH, ENETUNREACH, ECONNREFUSED', async () => {
      const p = forwardPair({ ipv6: true });
      const how = { 81: 'rst', 82: 'unreachable', 83: 'net-unreachable', 84: 'port-unreachable' } as const;
      const fwd = p.gateway.tcp.forward().subscribe((req) => req.refuse(how[req.localPort as keyof typeof how]));
      try {
        const got: Record<number, string> = {};
        for (const port of [81, 82, 83, 84]) got[port] = await firstValueFrom(p.client.tcp.connect({ address: FAR_IP6, port })).then(() => 'ok', codeOf);
        assert.deepEqual(got, { 81: 'ECONNREFUSED', 82: 'EHOSTUNREACH', 83: 'ENETUNREACH', 84: 'ECONNREFUSED' });
        assert.equal(stat(p.gateway, 'tcpForward', 'refusedRst'), 1);
        assert.equal(stat(p.gateway, 'tcpForward', 'refusedUnreachable'), 3);
        // The errors came from the original destination: the client's ICMPv6 took them as about its SYNs.
        assert.equal(stat(p.client, 'icmpv6', 'rxErrors'), 3);
        assert.equal(stat(p.gateway, 'tcpForward', 'inFlight'), 0);
      } finally {
        fwd.unsubscribe();
        p.close();
      }
    });

    it('through transport operators as well: the forwarded flow crosses them as records and is relayed byte-exact', async () => {
      let crossed = 0;
      const p = forwardPair({ ipv6: true, gatewayHooks: { transport: { up: tap(() => crossed++), down: tap(() => crossed++) } } });
      const fwd = p.gateway.tcp.forward().pipe(mergeMap((req) => req.accept()))
        .subscribe((c) => c.data$.subscribe({ next: (chunk) => c.write(chunk), complete: () => c.end(), error: () => undefined }));
      try {
        const conn = await firstValueFrom(p.client.tcp.connect({ address: FAR_IP6, port: 443 }));
        const payload = pattern(50_000, 9);
        const echoed = lastValueFrom(conn.data$.pipe(toArray()));
        conn.write(payload);
        conn.end();
        assert.deepEqual(concat(await echoed), payload);
        assert.ok(crossed > 20);
        await waitFor('the gateway side closed', () => (p.gateway.tcpLayer.connections().length === 0 ? true : undefined));
      } finally {
        fwd.unsubscribe();
        p.close();
      }
    });

    it('without a subscriber, a SYN to a foreign IPv6 address is not for us (dropped)', async () => {
      const p = forwardPair({ ipv6: true });
      try {
        p.gateway.tcp.forward().subscribe((req) => req.refuse('drop')).unsubscribe();
        const before = stat(p.gateway, 'ipv6', 'drops', 'notForUs');
        const far = p.client.tcp.connect({ address: FAR_IP6, port: 80 }).subscribe({ error: () => undefined });
        await waitFor('the SYN dropped as not for us', () => (stat(p.gateway, 'ipv6', 'drops', 'notForUs') > before ? true : undefined));
        far.unsubscribe();
        assert.equal(stat(p.gateway, 'tcpForward', 'requests'), 0);
      } finally {
        p.close();
      }
    });
  });

  describe('UDP', () => {
    it('groups an IPv6 flow into one session, answers from the original destination, and gives its ids back at close', async () => {
      const p = forwardPair({ ipv6: true });
      const sessions: UdpForwardSession[] = [];
      const fwd = p.gateway.udp.forward().subscribe((s) => {
        sessions.push(s);
        s.datagrams$.subscribe((d) => s.send(enc(dec(d).toUpperCase())));
      });
      const sock = p.client.udp.bind({ address: '::', port: 5353 });
      try {
        const replies = firstValueFrom(sock.datagrams$.pipe(take(3), toArray()));
        sock.send(enc('one'), { address: FAR_IP6, port: 53 });
        sock.send(enc('two'), { address: FAR_IP6, port: 53 });
        sock.send(enc('four'), { address: FAR_IP, port: 53 });
        const got = await replies;
        assert.deepEqual(got.map((d) => `${d.address}:${d.port} ${dec(d.payload)}`).sort(), [`${FAR_IP6}:53 ONE`, `${FAR_IP6}:53 TWO`, `${FAR_IP}:53 FOUR`].sort());
        assert.equal(sessions.length, 2, 'one session per flow, either family');
        const s = sessions.find((x) => x.localAddress === FAR_IP6)!;
        assert.deepEqual([s.localAddress, s.localPort, s.remoteAddress, s.remotePort, s.interface], [FAR_IP6, 53, CLIENT_IP6, 5353, 'eth0']);
        assert.equal(stat(p.gateway, 'udp', 'drops', 'noPort'), 0);
        const book = p.gateway.udpLayer.book;
        assert.notEqual(book.idOf(parseIpv6(FAR_IP6)!), undefined, 'held by the session');
        s.close();
        assert.equal(book.idOf(parseIpv6(FAR_IP6)!), undefined, 'given back when it ended');
        assert.equal(book.idOf(parseIpv6(CLIENT_IP6)!), undefined);
      } finally {
        sock.close();
        fwd.unsubscribe();
        p.close();
      }
    });

    it('refuse(): ICMPv6 port unreachable (1/4) from the original destination quoting the datagram; the client gets ECONNREFUSED', async () => {
      const p = forwardPair({ ipv6: true });
      const sessions: UdpForwardSession[] = [];
      const fwd = p.gateway.udp.forward().subscribe((s) => {
        sessions.push(s);
        s.datagrams$.subscribe();
      });
      // The gateway's ICMPv6 errors as sent: Ethernet, IPv6 (no extension headers), ICMPv6, the quote.
      const reports: { from: string; type: number; code: number; quoted: string }[] = [];
      const icmp = p.gateway.taps.link.down$.subscribe((f) => {
        if (f[12] !== 0x86 || f[13] !== 0xdd || f[14 + 6] !== 58 || f[54] >= 128) return;
        reports.push({ from: formatIpv6(f, 14 + 8), type: f[54], code: f[55], quoted: dec(f.subarray(54 + 8 + 40 + 8)) });
      });
      const sock = p.client.udp.bind({ address: '::', port: 9000 });
      try {
        sock.connect({ address: FAR_IP6, port: 53 });
        const refused = firstValueFrom(sock.errors$);
        sock.send(enc('the datagram'));
        await waitFor('forwarded', () => (sessions.length === 1 ? true : undefined));
        assert.equal(sessions[0].refuse(), true);
        assert.equal(codeOf(await refused), 'ECONNREFUSED');
        assert.deepEqual(reports, [{ from: FAR_IP6, type: 1, code: 4, quoted: 'the datagram' }]);
        assert.equal(stat(p.gateway, 'icmpv6', 'txErrors'), 1);
        assert.equal(sessions[0].refuse('net-unreachable'), true);
        await waitFor('the second error', () => (reports.length === 2 ? true : undefined));
        assert.deepEqual([reports[1].type, reports[1].code], [1, 0]);
      } finally {
        icmp.unsubscribe();
        sock.close();
        fwd.unsubscribe();
        p.close();
      }
    });
  });

  describe('ICMPv6 echo', () => {
    it('answers pings to foreign IPv6 addresses as the responder decides, from the pinged address; ours as always; IPv4 beside it', async () => {
      const p = forwardPair({ ipv6: true });
      const asked: EchoForwardRequest[] = [];
      const fwd = p.gateway.icmp.forwardEcho((r) => {
        asked.push(r);
        return r.to === FAR_IP6 || r.to === FAR_IP ? Promise.resolve(true) : false;
      }).subscribe();
      try {
        const reply = await firstValueFrom(p.client.icmp.ping(FAR_IP6, { size: 100 }));
        assert.equal(reply.from, FAR_IP6);
        assert.equal(reply.bytes, 100);
        assert.deepEqual([asked[0].from, asked[0].to, asked[0].data.length], [CLIENT_IP6, FAR_IP6, 100]);
        const silent = await firstValueFrom(p.client.icmp.ping('fd00:99::201', { timeout: 200 })).then(() => 'ok', codeOf);
        assert.equal(silent, 'ETIMEDOUT');
        assert.equal((await firstValueFrom(p.client.icmp.ping(GATEWAY_IP6))).from, GATEWAY_IP6, 'the stack answers its own address itself');
        assert.equal((await firstValueFrom(p.client.icmp.ping(FAR_IP))).from, FAR_IP, 'IPv4 through the same responder');
        assert.equal(asked.length, 3);
        assert.equal(stat(p.gateway, 'icmpForward', 'replied'), 2);
        assert.equal(stat(p.gateway, 'icmpForward', 'unanswered'), 1);
        // A second responder is refused; after unsubscribing, a foreign echo is not for us.
        await assert.rejects(firstValueFrom(p.gateway.icmp.forwardEcho(() => true), { defaultValue: undefined }), (e: unknown) => codeOf(e) === 'EADDRINUSE');
      } finally {
        fwd.unsubscribe();
      }
      try {
        const before = stat(p.gateway, 'ipv6', 'drops', 'notForUs');
        const late = await firstValueFrom(p.client.icmp.ping(FAR_IP6, { timeout: 200 })).then(() => 'ok', codeOf);
        assert.equal(late, 'ETIMEDOUT');
        assert.ok(stat(p.gateway, 'ipv6', 'drops', 'notForUs') > before);
      } finally {
        p.close();
      }
    });
  });
});

