/**
 * Users import the kit as `rx-netstack/testing`: the package.json "exports" entry and the
 * compiled modules under plain `node` (no tsx). The script imports the package by its own name
 * (Node resolves a package's self-reference through "exports"), building dist/ first when it is
 * missing or older than the kit's sources.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { ensureDist } from '../helpers/dist.js';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SOURCES = readdirSync(join(ROOT, 'streams/testing')).filter((f) => f.endsWith('.ts')).map((f) => `streams/testing/${f}`);


const SCRIPT = `
import { createStackAndPeer, isTcp, nextFrame } from 'rx-netstack/testing';
const { stack, peer, close } = createStackAndPeer();
stack.tcp.listen({ port: 80 }).subscribe();
peer.sendTcp({ srcPort: 40000, dstPort: 80, seq: 1, flags: 'SYN', mss: 1400 });
const f = await nextFrame(peer, isTcp({ flags: 'SYN|ACK' }), { timeoutMs: 2000 });
console.log(JSON.stringify({ flags: f.tcp.flagNames, ack: f.tcp.ack, from: f.ipv4.src }));
close();
`;

describe('rx-netstack/testing under plain node (compiled, imported by package name)', function () {
  this.timeout(180_000);

  before(() => ensureDist(SOURCES));

  it('a SYN from the peer gets a SYN-ACK from the stack', () => {
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', SCRIPT], { cwd: ROOT, encoding: 'utf8', timeout: 20_000 });
    assert.deepEqual(JSON.parse(out), { flags: 'SYN|ACK', ack: 2, from: '198.18.0.2' });
  });
});
