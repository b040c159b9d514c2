import assert from 'node:assert/strict';
import { describeKernelPeer, useKernelPeer } from '../helpers/netns.js';
import { startExample, type RunningExample } from './run-example.js';

describeKernelPeer('examples/http-server.ts (TAP, in a test namespace)', () => {
  const peer = useKernelPeer();
  let server: RunningExample | undefined;
  afterEach(async () => {
    await server?.stop('SIGKILL');
    server = undefined;
  });

  it('answers curl on / and /stats over one kept-alive connection, 404 elsewhere, stops on SIGINT', async () => {
    server = startExample('examples/http-server.ts', ['--tap', peer().tapName, '--netns', peer().netns]);
    await server.waitForLine(/^ready$/);
    assert.match(server.stdout(), /^http server at http:\/\/198\.18\.0\.2:80\/ on TAP /m);
    const out = await peer().run('curl', [
      '-sS', '--max-time', '10', '-w', '\n%{http_code} %{num_connects} %{local_port}\n',
      'http://198.18.0.2/', 'http://198.18.0.2/stats', 'http://198.18.0.2/nope',
    ]);
    const parts = out.split(/\n(\d{3} \d \d+)\n/);
    // [body, status line, body, status line, body, status line, '']
    assert.equal(parts.length, 7, out);
    const [hello, first, stats, second, missing, third] = parts;
    const [, , port] = first.split(' ');
    assert.equal(hello, `hello 198.18.0.1:${port}, this is rx-netstack\n`);
    assert.equal(first, `200 1 ${port}`);
    assert.equal(second, `200 0 ${port}`, 'the second request reused the connection');
    assert.equal(third, `404 0 ${port}`);
    assert.equal(missing, 'not found\n');
    const counters = JSON.parse(stats) as { tcp: { connectionsAccepted: number }; tcpConnections: { bytesReceived: number } };
    assert.equal(counters.tcp.connectionsAccepted, 1);
    assert.ok(counters.tcpConnections.bytesReceived > 0);
    await server.waitForLine(new RegExp(`^198\\.18\\.0\\.1:${port} GET /nope$`));
    const end = await server.stop('SIGINT');
    assert.equal(end.code, 0, `exit ${end.code ?? end.signal}; stderr: ${end.stderr}`);
    assert.match(end.stdout, /^stopped$/m);
    assert.equal(end.stderr, '');
  }).timeout(40_000);
});
