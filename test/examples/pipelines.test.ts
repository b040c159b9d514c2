import assert from 'node:assert/strict';
import { runExample } from './run-example.js';

describe('examples of docs/pipelines.md (no root)', () => {
  it('nat.ts: the server’s TCP sees the client as 10.1.0.1, the echo comes back, no checksum error', async () => {
    const run = await runExample('examples/nat.ts');
    assert.equal(run.code, 0, `exit ${run.code ?? run.signal}; stderr: ${run.stderr}`);
    assert.equal(run.stdout, [
      'client: connected from 198.18.0.1 to 198.18.0.2:7',
      'server: connection from 10.1.0.1',
      'client: echo "hello through the NAT"',
      'server: checksum errors 0',
      '',
    ].join('\n'));
  }).timeout(30_000);

  it('shaper.ts: everything arrives, never faster than the shaper allows', async () => {
    const run = await runExample('examples/shaper.ts');
    assert.equal(run.code, 0, `exit ${run.code ?? run.signal}; stderr: ${run.stderr}`);
    assert.match(run.stdout, /^server: received 262144 bytes$/m);
    const [, mbps] = /^client: ([\d.]+) Mbit\/s through a 2 Mbit\/s shaper/m.exec(run.stdout) ?? [];
    assert.ok(mbps !== undefined, run.stdout);
    // A shaper's promise is an upper bound: a slow machine can only make this smaller.
    // The first 16 KiB pass as a burst, hence a little above 2.
    assert.ok(Number(mbps) <= 2.3, `${mbps} Mbit/s through a 2 Mbit/s shaper`);
  }).timeout(30_000);

  it('custom-ethertype.ts: a protocol on 0x88b5 beside IPv4 and ARP', async () => {
    const run = await runExample('examples/custom-ethertype.ts');
    assert.equal(run.code, 0, `exit ${run.code ?? run.signal}; stderr: ${run.stderr}`);
    assert.equal(run.stdout, [
      'a: shouted "hello" on EtherType 0x88b5',
      'a: answer "HELLO"',
      'a: ping 198.18.0.2 ok (seq 0); IPv4 is EtherType 0x0800',
      'b: unknown EtherTypes dropped 0',
      '',
    ].join('\n'));
  }).timeout(30_000);

  it('custom-stack.ts: a hand-made stack without ARP, ICMP or UDP serves TCP echo', async () => {
    const run = await runExample('examples/custom-stack.ts');
    assert.equal(run.code, 0, `exit ${run.code ?? run.signal}; stderr: ${run.stderr}`);
    assert.equal(run.stdout, [
      'peer: echo "echo from a hand-made stack"',
      'peer: ping 198.18.0.2 -> ETIMEDOUT',
      'ours: the tap counted frames: true; TCP segments in: true; no ARP sent: true',
      '',
    ].join('\n'));
  }).timeout(30_000);
});
