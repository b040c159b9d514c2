import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { counterDelta, parseProcCounters } from '../../bench/kernel/proc-counters.js';
import type { LossyTapResult } from '../../bench/kernel/lossy-tap.js';
import { describeKernelPeer } from '../helpers/netns.js';

describe('bench/kernel/proc-counters', () => {
  it('reads /proc/net/snmp and netstat pairs under nstat names and subtracts them', () => {
    const text = [
      'Tcp: RtoAlgorithm RtoMin MaxConn RetransSegs',
      'Tcp: 1 200 -1 17',
      'Udp: InDatagrams',
      'Udp: 4',
      'TcpExt: SyncookiesSent TCPTimeouts TCPSackRecovery',
      'TcpExt: 0 3 9',
      '',
    ].join('\n');
    const before = parseProcCounters(text);
    assert.equal(before.TcpRetransSegs, 17);
    assert.equal(before.TcpMaxConn, -1);
    assert.equal(before.UdpInDatagrams, 4);
    assert.equal(before.TcpExtTCPTimeouts, 3);
    const after = parseProcCounters(text.replace('1 200 -1 17', '1 200 -1 20').replace('0 3 9', '0 4 9'));
    assert.deepEqual(counterDelta(before, after, ['TcpRetransSegs', 'TcpExtTCPTimeouts', 'TcpExtTCPSackRecovery', 'TcpExtMissing']), {
      TcpRetransSegs: 3,
      TcpExtTCPTimeouts: 1,
      TcpExtTCPSackRecovery: 0,
      TcpExtMissing: 0,
    });
  });
});

interface Report {
  results: { lossyTap?: LossyTapResult | { skipped: string } | { failed: string } };
  rows: Array<{ group: string; name: string; value: number; kernel?: number; ratio?: number }>;
}

/**
 * The lossy-path section over TAP, in a tiny configuration (one run of half a second per
 * direction, loss 0 and 5 %): the report has both senders for each case, bytes arrived both
 * ways, and both ends negotiated SACK with each other.
 */
describeKernelPeer('bench lossy-tap section (kernel peer)', function () {
  this.timeout(120_000);
  let out: string;

  beforeEach(() => {
    out = mkdtempSync(join(tmpdir(), 'rx-bench-lossy-tap-'));
  });
  afterEach(() => {
    rmSync(out, { recursive: true, force: true });
  });

  it('measures our sender and Linux\'s on the same impaired TAP path', async () => {
    const args = [
      '--import', 'tsx', 'bench/run.ts', '--quick', '--sections', 'lossy-tap', '--runs', '1',
      '--lossy-seconds', '0.5', '--lossy-losses', '0,0.05', '--out', out, '--no-docs',
    ];
    await new Promise<void>((resolve, reject) => {
      execFile(process.execPath, args, { timeout: 110_000, maxBuffer: 4 * 1024 * 1024 }, (error, _stdout, stderr) => {
        if (error) reject(new Error(`bench/run.ts failed: ${error.message}\n${stderr}`));
        else resolve();
      });
    });
    const report = JSON.parse(readFileSync(join(out, 'latest.json'), 'utf8')) as Report;
    const r = report.results.lossyTap;
    assert.ok(r !== undefined && 'cases' in r, `lossy-tap result: ${JSON.stringify(r)}`);
    assert.equal(r.settings.offload, false);
    assert.deepEqual(r.cases.map((c) => [c.rttMs, c.loss]), [[10, 0], [10, 0.05]]);
    for (const c of r.cases) {
      for (const [who, d] of [['our sender', c.fromStack], ['Linux\'s sender', c.toStack]] as const) {
        assert.equal(d.runs.length, 1, `${who} at ${c.loss}`);
        const run = d.runs[0];
        assert.ok(run.bytes > 0 && run.goodputMbps > 0, `${who} at ${c.loss}: ${JSON.stringify(run)}`);
        assert.equal(run.congestionControl, 'cubic');
        assert.ok(run.stackOptions.sack && run.linuxOptions.sack, `${who}: SACK negotiated both ways`);
        assert.ok(Number.isInteger(run.sender.retransmits) && Number.isInteger(run.sender.rtos));
        for (const drops of [run.tapTxDropped, run.tapRxDropped, run.stackTxDropped]) assert.ok(Number.isInteger(drops) && drops >= 0);
      }
      assert.deepEqual(Object.keys(c.toStackBy), ['cubic']);
    }
    // A clean path: no timeout (frames can still be lost when the TAP queue overflows, but
    // those are recovered from SACK, well before an RTO).
    const clean = r.cases[0];
    assert.equal(clean.fromStack.runs[0].sender.rtos, 0);
    const rows = report.rows.filter((row) => row.group === 'lossy paths, TAP');
    assert.equal(rows.length, 2);
    for (const row of rows) assert.ok(row.value > 0 && (row.kernel ?? 0) > 0 && Number.isFinite(row.ratio), JSON.stringify(row));
  });
});
