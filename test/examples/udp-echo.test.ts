import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));

describe('examples/udp-echo.ts', () => {
  it('runs, prints the three echoes and exits 0', async () => {
    const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      execFile(process.execPath, ['--import', 'tsx', 'examples/udp-echo.ts'], { cwd: root, timeout: 20_000 }, (error, stdout, stderr) => {
        resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : null, stdout, stderr });
      });
    });
    assert.equal(code, 0, `exit code ${code}; stderr: ${stderr}`);
    assert.match(stdout, /^client bound to 0\.0\.0\.0:\d+$/m);
    assert.match(stdout, /^echo from 198\.18\.0\.2:7 on eth0: hello$/m);
    assert.match(stdout, /^echo from 198\.18\.0\.2:7 on eth0: rx-netstack$/m);
    assert.match(stdout, /^echo from 198\.18\.0\.2:7 on eth0: x{20}\.\.\. \(4000 bytes\)$/m);
    assert.match(stdout, /^client sent 3 datagrams, received 3$/m);
    assert.equal(stderr, '');
  }).timeout(30_000);
});
