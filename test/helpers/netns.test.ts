/**
 * The kernel-peer gate: where root is missing, CI must fail (so a green CI proves the kernel
 * tests ran) and a developer's run must skip loudly. Checked by running a tiny suite in a child
 * mocha as user nobody.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { assertSafeCidr } from './netns.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const fixture = fileURLToPath(new URL('./fixtures/kernel-peer-gate.fixture.ts', import.meta.url));

function runGate(ci: string): Promise<{ code: number | null; output: string }> {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: '/tmp', CI: ci };
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'node_modules/mocha/bin/mocha.js', '--no-config', '--reporter', 'spec', fixture],
      // As root, drop to nobody; anyone else is unprivileged already.
      { cwd: root, env, timeout: 60_000, ...(process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {}) },
      (error, stdout, stderr) => resolve({ code: error === null ? 0 : (error.code as number | null), output: stdout + stderr }),
    );
  });
}

describe('helpers/netns', () => {
  it('refuses addresses outside 198.18.0.0/24', () => {
    assertSafeCidr('198.18.0.1/24');
    assertSafeCidr('198.18.0.77/32');
    for (const bad of ['10.0.0.1/24', '198.18.1.1/24', '198.18.0.1/16', '198.18.0.1', 'x/24']) {
      assert.throws(() => assertSafeCidr(bad), /198\.18\.0\.0\/24/, bad);
    }
  });

  describe('describeKernelPeer without root', () => {
    it('under CI=true the suite fails, naming what is missing', async () => {
      const { code, output } = await runGate('true');
      assert.notEqual(code, 0, output);
      assert.match(output, /kernel-peer tests cannot run under CI: not running as root/);
      assert.match(output, /1 failing/);
    });

    it('outside CI it skips loudly and passes', async () => {
      const { code, output } = await runGate('');
      assert.equal(code, 0, output);
      assert.match(output, /SKIPPING kernel-peer tests "gated suite"/);
      assert.match(output, /1 pending/);
    });
  });
});
