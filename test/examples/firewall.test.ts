import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));

describe('examples/firewall.ts', () => {
  it('runs: the ingress tap logs, the IPv4 input hook drops mallory, alice gets her replies', async () => {
    const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      execFile(process.execPath, ['--import', 'tsx', 'examples/firewall.ts'], { cwd: root, timeout: 20_000 }, (error, stdout, stderr) => {
        resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : null, stdout, stderr });
      });
    });
    assert.equal(code, 0, `exit code ${code}; stderr: ${stderr}`);
    assert.equal(stderr, '');
    // The logging tap at link ingress saw both clients' ARP and echo requests.
    assert.match(stdout, /^\[server ingress\] 02:00:00:00:00:01 > ff:ff:ff:ff:ff:ff ARP who-has 198\.18\.0\.2 tell 198\.18\.0\.1$/m);
    assert.match(stdout, /^\[server ingress\] 02:00:00:00:01:66 > ff:ff:ff:ff:ff:ff ARP who-has 198\.18\.1\.2 tell 198\.18\.1\.66$/m);
    const echoFrom = (src: string) => stdout.split('\n').filter((l) => l.startsWith(`[server ingress]`) && l.includes(`IPv4 ${src} >`) && l.includes('ICMP type 8')).length;
    assert.equal(echoFrom('198.18.0.1'), 3);
    assert.equal(echoFrom('198.18.1.66'), 3, 'mallory’s requests reach the link: the firewall sits above it');
    // The firewall at IPv4 input dropped exactly mallory's three.
    const drops = stdout.split('\n').filter((l) => l.startsWith('[firewall] dropped'));
    assert.deepEqual(drops, Array(3).fill('[firewall] dropped a datagram from 198.18.1.66 to 198.18.1.2 (protocol 1)'));
    for (const seq of [0, 1, 2]) assert.match(stdout, new RegExp(`^alice: reply from 198\\.18\\.0\\.2 seq=${seq} ttl=64 time=\\d+\\.\\d ms$`, 'm'));
    assert.match(stdout, /^mallory: ETIMEDOUT: no echo reply from 198\.18\.1\.2 for seq 0 within 500 ms$/m);
    assert.doesNotMatch(stdout, /^mallory: reply/m);
    assert.match(stdout, /^firewall dropped 3 datagrams; server answered 3 of 3 echo requests it saw$/m);
  }).timeout(30_000);
});
