import assert from 'node:assert/strict';
import { parseServe } from '../../bin/cli-args.js';
import { startStack } from '../../bin/serve.js';
import { createMemoryWire } from '../../streams/links/memory-wire.js';
import { createStack } from '../../streams/stack/create-stack.js';
import { firstValueFrom, lastValueFrom, take, timeout, toArray } from 'rxjs';

const BASE = ['--tap', 'rxt9', '--ip', '198.18.0.2/24'];

describe('bin/cli-args: serve --heap-pages', () => {
  it('packed|huge|off (absent: left to the default, HEAP_PAGES_DEFAULT); a bad value named with the other problems', () => {
    const plain = parseServe(BASE);
    assert.ok(plain.kind === 'serve' && plain.args.heapPages === undefined);
    for (const mode of ['packed', 'huge', 'off'] as const) {
      const r = parseServe([...BASE, '--heap-pages', mode]);
      assert.ok(r.kind === 'serve' && r.args.heapPages === mode, mode);
    }
    const bad = parseServe([...BASE, '--heap-pages', 'big', '--sleep', 'epoll']);
    assert.ok(bad.kind === 'invalid');
    assert.ok(bad.problems.includes('--heap-pages: "big" is not one of packed, huge, off'), bad.problems.join('; '));
    assert.ok(bad.problems.some((p) => p.startsWith('--sleep:')));
  });
});

describe('bin/cli-args: serve IPv6 options', () => {
  it('--ip6 (repeatable, canonical text), --gw6, --no-slaac', () => {
    const r = parseServe([...BASE, '--ip6', 'FD00:198:18:0::2/64', '--ip6', '2001:db8::7/64', '--gw6', 'FE80::1', '--no-slaac']);
    assert.equal(r.kind, 'serve');
    assert.ok(r.kind === 'serve');
    assert.deepEqual(r.args.ip6, ['fd00:198:18::2/64', '2001:db8::7/64']);
    assert.equal(r.args.gw6, 'fe80::1');
    assert.equal(r.args.slaac, false);
    const plain = parseServe(BASE);
    assert.ok(plain.kind === 'serve');
    assert.deepEqual([plain.args.ip6, plain.args.gw6, plain.args.slaac], [[], undefined, true], 'IPv6 off, SLAAC would be on');
  });

  it('names every bad IPv6 option at once', () => {
    const r = parseServe([...BASE, '--ip6', 'nope', '--ip6', '::/64', '--ip6', 'fd00::2/0', '--ip6', 'fd00::3/64', '--ip6', 'fd00::3/64', '--gw6', 'ff02::2', '--no-slaac=yes']);
    assert.ok(r.kind === 'invalid');
    assert.deepEqual(r.problems.filter((p) => /--ip6|--gw6|--no-slaac/.test(p)), [
      '--ip6: "nope" is not an IPv6 address with prefix, like fd00:198:18::2/64',
      '--ip6: ::/64 cannot be a host\'s own address (multicast, unspecified, loopback or IPv4-mapped)',
      '--ip6: "fd00::2/0" is not an IPv6 address with prefix, like fd00:198:18::2/64',
      '--ip6: fd00::3 is given twice',
      '--gw6: ff02::2 cannot be a next hop (multicast, unspecified or loopback)',
    ]);
    const gw = parseServe([...BASE, '--ip6', 'fd00::2/64', '--gw6', 'fd00::2']);
    assert.ok(gw.kind === 'invalid' && gw.problems[0] === "--gw6: fd00::2 is one of the stack's own addresses (--ip6)");
    const off = parseServe([...BASE, '--gw6', 'fd01::1', '--ip6', 'fd00::2/64']);
    assert.ok(off.kind === 'invalid' && off.problems[0] === '--gw6: fd01::1 is neither link-local nor on the prefix of an --ip6 address');
    const lone = parseServe([...BASE, '--no-slaac']);
    assert.ok(lone.kind === 'invalid' && lone.problems[0] === '--no-slaac: IPv6 is off without --ip6 or --gw6');
    const noValue = parseServe([...BASE, '--ip6']);
    assert.ok(noValue.kind === 'invalid' && noValue.problems.includes('--ip6: needs a value'));
  });

  it('startStack: --ip6 addresses, a default route via the link-local --gw6 on the interface, SLAAC per --no-slaac', () => {
    const [link] = createMemoryWire();
    const running = startStack(link, { tap: 'tap0', ip: '198.18.0.2/24', ip6: ['fd00:198:18::2/64'], gw6: 'fe80::1', slaac: false, services: [] });
    try {
      const s = running.stack;
      assert.equal(s.config.ipv6.enabled, true);
      assert.equal(s.config.ipv6.slaac, false);
      assert.deepEqual(s.inet6.addresses().map((a) => [a.origin, a.state]).sort(), [['link-local', 'tentative'], ['static', 'tentative']]);
      assert.ok(s.inet6.addresses().some((a) => a.cidr === 'fd00:198:18::2/64'));
      assert.deepEqual(s.inet6.routes(), [{ destination: '::/0', gateway: 'fe80::1', interface: 'tap0', origin: 'static' }]);
    } finally {
      running.close();
    }
    const [l2] = createMemoryWire();
    const v4 = startStack(l2, { tap: 'tap0', ip: '198.18.0.2/24', services: [] });
    assert.equal(v4.stack.config.ipv6.enabled, false, 'without --ip6/--gw6 the stack stays IPv4-only');
    v4.close();
  });

  it('serve --ip6 --services echo:7,discard:9,chargen:19,http:80,udp-echo:7: every service answers over IPv6 (and IPv4)', async () => {
    const parsed = parseServe([...BASE, '--ip6', 'fd00:198:18::2/64', '--no-slaac', '--services', 'echo:7,discard:9,chargen:19,http:80,udp-echo:7']);
    assert.ok(parsed.kind === 'serve', JSON.stringify(parsed));
    const [link, peer] = createMemoryWire({ mtu: 1500 });
    const running = startStack(link, parsed.args);
    const client = createStack({ interfaces: [{ name: 'eth0', link: peer, ipv4: ['198.18.0.1/24'], ipv6: ['fd00:198:18::1/64'] }], ipv6: { dadTransmits: 0, acceptRa: false } });
    try {
      await running.stack.inet6.ready(); // the served addresses pass DAD first, as `serve` waits before "ready"
      const exchange = async (address: string, port: number, send: string): Promise<string> => {
        const conn = await firstValueFrom(client.tcp.connect({ address, port }));
        assert.equal(conn.remoteAddress, address);
        const back = lastValueFrom(conn.data$.pipe(take(port === 19 ? 1 : Infinity), toArray()));
        conn.write(new TextEncoder().encode(send));
        if (port !== 19) conn.end();
        const text = new TextDecoder().decode(Buffer.concat((await back).map((c) => Buffer.from(c))));
        conn.destroy();
        return text;
      };
      assert.equal(await exchange('fd00:198:18::2', 7, 'hello'), 'hello');
      assert.equal(await exchange('198.18.0.2', 7, 'hello4'), 'hello4');
      assert.equal(await exchange('fd00:198:18::2', 9, 'gone'), '');
      assert.ok((await exchange('fd00:198:18::2', 19, '')).startsWith(' !"#$%'));
      assert.match(await exchange('fd00:198:18::2', 80, 'GET / HTTP/1.0\r\n\r\n'), /^HTTP\/1\.[01] 200 /);
      const udp = client.udp.bind({ address: '::' });
      const echo = firstValueFrom(udp.datagrams$.pipe(take(1), timeout(3000)));
      udp.send(new Uint8Array([42]), { address: 'fd00:198:18::2', port: 7 });
      assert.deepEqual([...(await echo).payload], [42]);
      udp.close();
    } finally {
      client.close();
      running.close();
    }
  });
});

