import assert from 'node:assert/strict';
import { runExample } from './run-example.js';

describe('examples/memory-pair.ts (no root)', () => {
  it('one stack serves node:http, the other fetches it over the memory wire; exits 0', async () => {
    const run = await runExample('examples/memory-pair.ts');
    assert.equal(run.code, 0, `exit ${run.code ?? run.signal}; stderr: ${run.stderr}`);
    const [, port] = /^client: connected 198\.18\.0\.1:(\d+) -> 198\.18\.0\.2:80$/m.exec(run.stdout) ?? [];
    assert.ok(port !== undefined, run.stdout);
    assert.equal(run.stdout, [
      `client: connected 198.18.0.1:${port} -> 198.18.0.2:80`,
      `server: GET / from 198.18.0.1:${port}`,
      'client: HTTP/1.1 200 OK',
      'client: content-type: text/plain',
      'client: body: hello 198.18.0.1, this is rx-netstack at 198.18.0.2',
      '',
    ].join('\n'));
    assert.equal(run.stderr, '');
  }).timeout(30_000);
});
