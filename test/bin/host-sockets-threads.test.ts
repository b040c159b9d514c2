/**
 * The addon's host sockets (DatagramSocket, TcpSocket) from worker threads while the main thread
 * uses them too: each thread's receive buffers and read arrays are its own, and a worker that
 * exits with sockets open ends cleanly. The scenario (fixtures/host-sockets-threads.mjs) runs
 * in a process of its own against echo servers on 127.0.0.1 of that process (ephemeral ports,
 * nothing configured): with one process-wide buffer and reference, it crashed (SIGSEGV).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const script = fileURLToPath(new URL('./fixtures/host-sockets-threads.mjs', import.meta.url));
const addon = fileURLToPath(new URL('../../build/Release/rx_tap.node', import.meta.url));

interface Exchange {
  readonly udp: { rounds: number; bad: number; errno?: number };
  readonly tcp: { got: number; exact?: boolean; errno?: number };
}

describe('addon host sockets: per thread (worker_threads)', function () {
  this.timeout(60_000);

  it('workers and the main thread exchange at once, each through its own buffers, byte-exact; workers exiting with sockets open end cleanly', async () => {
    const { code, signal, stdout, stderr } = await new Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }>((resolve) => {
      const child = execFile(process.execPath, [script, addon], { timeout: 50_000 }, (_err, stdout, stderr) =>
        resolve({ code: child.exitCode, signal: child.signalCode, stdout, stderr }),
      );
    });
    assert.equal(signal, null, `the process died of ${signal}: ${stderr}`);
    assert.equal(code, 0, stderr);
    const out = JSON.parse(stdout) as Record<string, Exchange & { exitCode?: number }> & { mainMarksUntouched: boolean };
    for (const who of ['workerA', 'main', 'workerB', 'mainAfter', 'workerC']) {
      const r = out[who];
      assert.deepEqual(r.udp, { rounds: 300, bad: 0 }, `${who}: UDP`);
      assert.deepEqual(r.tcp, { got: 1 << 20, exact: true }, `${who}: TCP`);
      if (who.startsWith('worker')) assert.equal(r.exitCode, 0, `${who} exit code`);
    }
    assert.equal(out.mainMarksUntouched, true, "a worker's writes to its buffers reached the main thread's");
  });
});
