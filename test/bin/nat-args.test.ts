/**
 * `rx-netstack nat` option parsing (bin/nat-args.ts) and the host's resolvers (bin/resolv-conf.ts):
 * the addresses derived from --cidr as slirp4netns has them, --publish forms, every problem named.
 */
import assert from 'node:assert/strict';
import { parseNat, type NatArgs } from '../../bin/nat-args.js';
import { parseNameservers } from '../../bin/resolv-conf.js';

function ok(argv: string[]): NatArgs {
  const parsed = parseNat(argv);
  assert.equal(parsed.kind, 'nat', JSON.stringify(parsed));
  return (parsed as { args: NatArgs }).args;
}

function problems(argv: string[]): readonly string[] {
  const parsed = parseNat(argv);
  assert.equal(parsed.kind, 'invalid');
  return (parsed as { problems: readonly string[] }).problems;
}

describe('bin/nat-args: rx-netstack nat options', () => {
  it('defaults like slirp4netns: 10.0.2.0/24, gateway .2, DNS .3, the namespace .100, MTU 1500, TUN tun0', () => {
    const a = ok(['--netns', 'box']);
    assert.deepEqual(
      { cidr: a.cidr, gateway: a.gateway, dns: a.dns, guest: a.guest, mtu: a.mtu, device: a.device, dns_: a.dnsEnabled, loop: a.hostLoopback },
      { cidr: '10.0.2.0/24', gateway: '10.0.2.2', dns: '10.0.2.3', guest: '10.0.2.100', mtu: 1500, device: { kind: 'tun', name: 'tun0' }, dns_: true, loop: true },
    );
    assert.equal(a.dnsUpstream, undefined);
    assert.deepEqual(a.publish, []);
    assert.equal(a.udpOffload, true);
    assert.equal(a.schedSliceUs, undefined, 'the nat decides: 6000 when pinned to one CPU, else the kernel\'s');
  });

  it('--sched-slice US: 0 (the kernel default) or 100..100000; anything else named', () => {
    assert.equal(ok(['--netns', 'box', '--sched-slice', '0']).schedSliceUs, 0);
    assert.equal(ok(['--netns', 'box', '--sched-slice', '100000']).schedSliceUs, 100_000);
    for (const bad of ['99', '100001', '3ms', '-1']) {
      assert.ok(problems(['--netns', 'box', `--sched-slice=${bad}`]).some((p) => p.startsWith('--sched-slice:')), bad);
    }
  });

  it('--sleep own|libuv (default own) and --busy-poll US (0..1000000, default 0, with either wait)', () => {
    const a = ok(['--netns', 'box']);
    assert.deepEqual({ sleep: a.sleep, busy: a.busyPollUs }, { sleep: 'own', busy: 0 });
    assert.equal(ok(['--netns', 'box', '--sleep', 'libuv']).sleep, 'libuv');
    assert.equal(ok(['--netns', 'box', '--busy-poll', '50']).busyPollUs, 50);
    assert.equal(ok(['--netns', 'box', '--sleep', 'libuv', '--busy-poll', '0']).busyPollUs, 0);
    assert.equal(ok(['--netns', 'box', '--busy-poll', '1000000']).busyPollUs, 1_000_000);
    assert.ok(problems(['--netns', 'box', '--sleep', 'epoll']).some((p) => p.startsWith('--sleep:')));
    for (const bad of ['1000001', '5us', '-1', '']) {
      assert.ok(problems(['--netns', 'box', `--busy-poll=${bad}`]).some((p) => p.startsWith('--busy-poll:')), bad);
    }
    assert.equal(ok(['--netns', 'box', '--sleep', 'libuv', '--busy-poll', '20']).busyPollUs, 20);
  });

  it('--heap-pages packed|huge|off (absent: left to the default), a bad value named', () => {
    assert.equal(ok(['--netns', 'box']).heapPages, undefined);
    for (const mode of ['packed', 'huge', 'off'] as const) assert.equal(ok(['--netns', 'box', '--heap-pages', mode]).heapPages, mode);
    for (const bad of ['Packed', 'on', '']) {
      assert.ok(problems(['--netns', 'box', `--heap-pages=${bad}`]).includes(`--heap-pages: "${bad}" is not one of packed, huge, off`), bad);
    }
  });

  it('--disable-udp-offload: every UDP datagram through the stack', () => {
    assert.equal(ok(['--netns', 'box', '--disable-udp-offload']).udpOffload, false);
  });

  it('derives the addresses from --cidr (its network, whatever host bits were given)', () => {
    const a = ok(['--netns', 'box', '--cidr', '198.18.0.77/25', '--tap', 'tap0', '--mtu', '65520', '--disable-host-loopback', '--disable-dns']);
    assert.deepEqual([a.cidr, a.gateway, a.dns, a.guest], ['198.18.0.0/25', '198.18.0.2', '198.18.0.3', '198.18.0.100']);
    assert.deepEqual(a.device, { kind: 'tap', name: 'tap0' });
    assert.equal(a.mtu, 65520);
    assert.equal(a.hostLoopback, false);
    assert.equal(a.dnsEnabled, false);
  });

  it('--publish [A:]H:N[/tcp|/udp], repeatable; --dns-upstream A[:P]', () => {
    const a = ok(['--netns', 'b', '--publish', '8080:80', '--publish', '127.0.0.1:5353:53/udp', '--publish', '8443:443/TCP', '--dns-upstream', '192.0.2.53:5353']);
    assert.deepEqual(a.publish, [
      { protocol: 'tcp', hostPort: 8080, guestPort: 80 },
      { protocol: 'udp', hostAddress: '127.0.0.1', hostPort: 5353, guestPort: 53 },
      { protocol: 'tcp', hostPort: 8443, guestPort: 443 },
    ]);
    assert.deepEqual(a.dnsUpstream, { address: '192.0.2.53', port: 5353 });
    assert.equal(ok(['--netns', 'b', '--publish', '53:53/udp', '--publish', '53:53']).publish.length, 2, 'TCP and UDP may share a port number');
  });

  it('names every bad option at once', () => {
    const p = problems(['--cidr', '10.0.0.0/26', '--mtu', '65522', '--tun', 'x', '--tap', 'y', '--publish', '1:2:3:4', '--publish', '80:0',
      '--publish', '9:9/sctp', '--dns', '--disable-dns', '--dns-upstream', '::1', '--extra', 'positional']);
    for (const start of ['--netns: required', '--cidr:', '--mtu:', '--tun, --tap:', '--publish: "1:2:3:4"', '--publish: "80:0"', '--publish: "9:9/sctp"',
      '--dns, --disable-dns:', '--dns-upstream: "::1"', '--dns-upstream: not with --disable-dns', '--extra: unknown option', 'unexpected argument "positional"']) {
      assert.ok(p.some((line) => line.startsWith(start)), `"${start}" in:\n${p.join('\n')}`);
    }
  });

  it('--help wins over bad options (the usage is what was asked for)', () => {
    assert.deepEqual(parseNat(['--frob', '--help']), { kind: 'help' });
  });
});

describe('bin/resolv-conf: the host resolvers', () => {
  it('takes the IPv4 nameserver lines in order, skipping comments, IPv6 and other keywords', () => {
    const text = '# generated\nsearch example.test\nnameserver ::1\nnameserver 127.0.0.53\noptions edns0\n nameserver\t192.0.2.1 \n';
    assert.deepEqual(parseNameservers(text), ['127.0.0.53', '192.0.2.1']);
    assert.deepEqual(parseNameservers(''), []);
  });
});
