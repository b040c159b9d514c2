/**
 * tsx resolves `io-ts` and `fp-ts/lib/Either` more leniently than Node does, so a broken import
 * could pass every other test and fail for users. This runs the compiled modules under plain
 * `node`, building them first when dist/ is missing or older than the sources.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { ensureDist } from '../helpers/dist.js';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SOURCES = [
  ...readdirSync(join(ROOT, 'src/config')).map((f) => `src/config/${f}`),
  'src/log.ts',
  'src/stats.ts',
  'src/transport/port-manager.ts',
  'src/transport/endpoint-table.ts',
].filter((f) => f.endsWith('.ts'));


const SCRIPT = `
const config = await import('./dist/src/config/index.js');
const { log } = await import('./dist/src/log.js');
const { StatsRegistry, createCounters } = await import('./dist/src/stats.js');
const { PortManager } = await import('./dist/src/transport/port-manager.js');
const { EndpointTable } = await import('./dist/src/transport/endpoint-table.js');
const link = { mtu: 1500, frames$: { subscribe() {} }, send() {} };
const ok = config.decodeStackConfig({ interfaces: [{ name: 'eth0', link, ipv4: ['198.18.0.2/24'] }] });
let bad;
try { config.decodeStackConfig({ interfaces: [{ name: 'eth0', link, ipv4: ['198.18.0.300/24'] }] }); }
catch (e) { bad = { code: e.code, problems: e.problems }; }
const reg = new StatsRegistry();
reg.register('eth', createCounters(['rxFrames'], ['truncated']));
const table = new EndpointTable();
table.insert(0, 7, 0, 0, 'echo');
console.log(JSON.stringify({
  address: ok.interfaces[0].ipv4[0].address, bad, eth: log.eth.namespace, stats: reg.snapshot(),
  port: new PortManager({ random: () => 0 }).allocateEphemeral(0), found: table.lookup(1, 7, 2, 3),
}));
`;

describe('config, log, stats, transport under plain node (compiled)', function () {
  this.timeout(180_000);

  before(() => ensureDist(SOURCES));

  it('imports and runs without tsx', () => {
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', SCRIPT], { cwd: ROOT, encoding: 'utf8' });
    assert.deepEqual(JSON.parse(out), {
      address: 0xc6120002,
      bad: {
        code: 'ERR_INVALID_CONFIG',
        problems: [{ path: 'interfaces.0.ipv4.0', message: '"198.18.0.300/24" is not an IPv4 CIDR like 198.18.0.2/24' }],
      },
      eth: 'rx-netstack:eth',
      stats: { eth: { rxFrames: 0, drops: { truncated: 0 }, otherDrops: {} } },
      port: 49152,
      found: 'echo',
    });
  });
});
