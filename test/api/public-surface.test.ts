/**
 * The published surface: the declarations a user's TypeScript sees (dist/, built with
 * stripInternal) leave out what is marked @internal, and they are consistent on their own: a
 * consumer project that imports the package by name type-checks against them with
 * skipLibCheck off.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { ensureDist } from '../helpers/dist.js';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const dts = (file: string): string => readFileSync(join(ROOT, 'dist', file), 'utf8');

/** The members a class declares in a .d.ts (names before `(`, `:` or `?`). */
function members(text: string, className: string): Set<string> {
  const start = text.indexOf(`class ${className} `);
  assert.ok(start >= 0, `class ${className} not found`);
  const body = text.slice(start, text.indexOf('\n}', start));
  const names = new Set<string>();
  for (const m of body.matchAll(/^\s{4}(?:readonly |static |get |set |protected |private )*([#\w$]+)[?(:<]/gm)) names.add(m[1]);
  return names;
}

const CONSUMER = `
import { createStack, createMemoryWire, between, shape, ipv4Addr, type StackStats } from 'rx-netstack';
import { wire, arp, ipv4, ipv6, icmp } from 'rx-netstack/core';
import { createStackPair } from 'rx-netstack/testing';
const [a] = createMemoryWire();
const stack = createStack({ interfaces: [{ name: 'eth0', link: a, ipv4: ['198.18.0.2/24'] }] },
  { hooks: { link: { down: shape({ bytesPerSecond: 1e6 }) } } });
const stats: StackStats = stack.stats();
const n: number = stats.tcp.drops.noEndpoint + stats['eth:eth0'].rxFrames + ipv4Addr('198.18.0.1') + wire.ETHERNET_HEADER_LEN;
const routes = new ipv4.RouteTable();
const bucket = new icmp.TokenBucket(1, 1);
const cache: arp.NeighborCache<Uint8Array> | undefined = undefined;
const pcap = wire.readPcap(wire.pcapGlobalHeader());
const nd = new ipv6.Ipv6NeighborCache<Uint8Array>();
const chain: wire.Ipv6ChainResult = wire.walkIpv6Chain(new Uint8Array(40));
void between; void createStackPair; void n; void routes; void bucket; void cache; void pcap; void nd; void chain;
stack.close();
`;

describe('the published API surface (dist declarations)', function () {
  this.timeout(180_000);

  before(() => ensureDist(['streams/stack/create-stack.ts', 'streams/stack/tcp-connection.ts', 'streams/stack/tcp-layer.ts', 'streams/index.ts', 'src/index.ts', 'src/wire/index.ts']));

  it('Stack keeps its layers and stats registry to itself', () => {
    const stack = members(dts('streams/stack/create-stack.d.ts'), 'Stack');
    for (const name of ['tcp', 'udp', 'icmp', 'arp', 'taps', 'stats', 'close', 'ethernetProtocol', 'ipv4Protocol']) assert.ok(stack.has(name), `Stack.${name} is public`);
    for (const name of ['statsRegistry', 'tcpLayer', 'udpLayer', 'icmpLayer', 'ipv4']) assert.ok(!stack.has(name), `Stack.${name} is internal`);
  });

  it('TcpConnection offers the user API, not the callbacks of its core or its owner', () => {
    const conn = members(dts('streams/stack/tcp-connection.d.ts'), 'TcpConnection');
    for (const name of ['data$', 'state$', 'closed$', 'write', 'write$', 'end', 'destroy', 'readable', 'writable', 'toSocket']) assert.ok(conn.has(name), `TcpConnection.${name} is public`);
    for (const name of ['core', 'send', 'onReadable', 'onWritable', 'onClosed', 'onStateChange', 'failWith', 'rearm', 'attachReader', 'socketFactory']) {
      assert.ok(!conn.has(name), `TcpConnection.${name} is internal`);
    }
  });

  it('layer building blocks expose their boundaries, not their plumbing', () => {
    const tcp = members(dts('streams/stack/tcp-layer.d.ts'), 'TcpLayer');
    assert.ok(tcp.has('listen') && tcp.has('connect') && tcp.has('start'));
    for (const name of ['transmit', 'established', 'released']) assert.ok(!tcp.has(name), `TcpLayer.${name} is internal`);
    const ipv4 = members(dts('streams/stack/ipv4-layer.d.ts'), 'Ipv4Layer');
    assert.ok(ipv4.has('protocol') && ipv4.has('attach') && ipv4.has('routeFor'));
    assert.ok(!ipv4.has('send'), 'Ipv4Layer.send is internal: transports use their port');
  });

  it('a consumer project type-checks against the declarations alone (skipLibCheck off)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rx-netstack-consumer-'));
    try {
      mkdirSync(join(dir, 'node_modules'));
      symlinkSync(ROOT, join(dir, 'node_modules', 'rx-netstack'), 'dir');
      for (const dep of ['rxjs', '@types', 'fp-ts', 'io-ts', 'debug']) {
        if (existsSync(join(ROOT, 'node_modules', dep))) symlinkSync(join(ROOT, 'node_modules', dep), join(dir, 'node_modules', dep), 'dir');
      }
      writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'module', private: true }));
      writeFileSync(join(dir, 'main.ts'), CONSUMER);
      writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({
        compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, skipLibCheck: false, types: ['node'] },
        files: ['main.ts'],
      }));
      const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
      const out = await new Promise<string>((resolve) =>
        execFile(process.execPath, [tsc, '-p', dir], { timeout: 150_000 }, (err, stdout, stderr) => resolve(err === null ? '' : stdout + stderr || String(err))),
      );
      assert.equal(out, '', `the consumer does not type-check:\n${out}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
