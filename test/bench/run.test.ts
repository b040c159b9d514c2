import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A smoke run of the benchmark harness (`bench/run.ts --quick`): it must finish, print the
 * table and write the JSON with the machine and a finite figure per row. No timing is asserted:
 * the figures of a quick run on a busy CI machine mean nothing.
 */

interface BenchRow {
  group: string;
  name: string;
  unit: string;
  value: number | null;
  note?: string;
}

interface BenchReport {
  date: string;
  machine: { cpuModel: string; cores: number; node: string; kernel: string };
  results: Record<string, unknown>;
  rows: BenchRow[];
}

function runBench(args: string[], timeoutMs: number): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['--import', 'tsx', 'bench/run.ts', ...args], { timeout: timeoutMs, maxBuffer: 4 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`bench/run.ts failed: ${error.message}\n${stderr}`));
      else resolve({ stdout, stderr });
    });
  });
}

/** CI as test/helpers/netns.ts reads it: CI set and not '', '0' or 'false'. */
function underCI(): boolean {
  const ci = process.env.CI;
  return ci !== undefined && ci !== '' && ci !== '0' && ci.toLowerCase() !== 'false';
}

function isRoot(): boolean {
  return process.platform === 'linux' && process.getuid?.() === 0;
}

describe('bench harness (quick smoke run)', function () {
  this.timeout(60_000);
  let out: string;

  beforeEach(() => {
    out = mkdtempSync(join(tmpdir(), 'rx-bench-'));
  });
  afterEach(() => {
    rmSync(out, { recursive: true, force: true });
  });

  function readReport(): BenchReport {
    const files = readdirSync(out).sort();
    assert.ok(files.includes('latest.json'), `files written: ${files.join(', ')}`);
    const dated = files.filter((f) => /^\d{4}-\d{2}-\d{2}T.*\.json$/.test(f));
    assert.equal(dated.length, 1, 'one dated copy');
    const latest = readFileSync(join(out, 'latest.json'), 'utf8');
    assert.equal(readFileSync(join(out, dated[0]), 'utf8'), latest);
    return JSON.parse(latest) as BenchReport;
  }

  it('in-process sections: prints the table and writes JSON with the machine and every figure', async () => {
    const { stdout } = await runBench(['--quick', '--sections', 'frame,memory,idle', '--connections', '200', '--out', out, '--no-docs'], 50_000);
    assert.match(stdout, /benchmark\s+rx-netstack\s+Linux\s+ratio/);
    assert.match(stdout, /inbound 1460-byte TCP data/);
    const report = readReport();
    assert.ok(!Number.isNaN(Date.parse(report.date)));
    assert.ok(report.machine.cpuModel.length > 0);
    assert.ok(report.machine.cores >= 1);
    assert.equal(report.machine.node, process.version);
    const names = report.rows.map((r) => r.name);
    for (const expected of [/^inbound/, /^outbound/, /^checksum, 1500/, /^checksum, 64 KiB/, /^TCP bulk$/, /^TCP request\/response/, /^TCP connect/, /^memory per idle connection \(200 open\)/]) {
      assert.ok(names.some((n) => expected.test(n)), `a row matching ${expected} in ${names.join(' | ')}`);
    }
    for (const row of report.rows) {
      assert.equal(typeof row.value, 'number', `${row.name} has a value`);
      assert.ok(Number.isFinite(row.value) && (row.value as number) > 0, `${row.name}: ${row.value}`);
    }
  });

  it('TAP section: measures the stack and the kernel (as root); elsewhere says why it skipped, and fails under CI', async () => {
    const { stdout } = await runBench(['--quick', '--sections', 'tap', '--no-build', '--duration', '0.2', '--out', out, '--no-docs'], 50_000);
    const report = readReport();
    const tap = report.results.tap as Record<string, unknown>;
    if (!isRoot()) {
      // A CI run must measure, not pass on a skip (the kernel-peer tests fail the same way).
      assert.ok(!underCI(), `the TAP benchmarks cannot run under CI: ${String(tap.skipped)}`);
      assert.match(String(tap.skipped), /root/);
      assert.match(stdout, /skipped/);
      return;
    }
    assert.equal(tap.failed, undefined, `TAP benchmarks failed: ${String(tap.failed)}`);
    const rows = report.rows.filter((r) => r.group === 'TAP vs kernel');
    assert.equal(rows.length, 6);
    for (const key of ['bulkToStack', 'bulkFromStack', 'tcpRr', 'tcpCrr', 'udpRr', 'ping']) {
      const f = tap[key] as { stack: number; kernel: number; ratio: number; pairedRatio: number };
      assert.ok(f.stack > 0 && f.kernel > 0 && Number.isFinite(f.ratio), `${key}: ${JSON.stringify(f)}`);
      assert.ok(Number.isFinite(f.pairedRatio) && f.pairedRatio > 0, `${key}: run-by-run ratio ${JSON.stringify(f)}`);
    }
    for (const r of rows) assert.match(r.note ?? '', /^run by run \d+\.\d{3}$/, r.name);
  });

  it('nat section: rx-netstack nat and slirp4netns measured on the same topology (as root); elsewhere says why it skipped, and fails under CI', async () => {
    const { stdout } = await runBench(['--quick', '--sections', 'nat', '--no-build', '--duration', '0.2', '--out', out, '--no-docs'], 55_000);
    const report = readReport();
    const nat = report.results.nat as Record<string, unknown>;
    if (nat.skipped !== undefined) {
      // .ci/run installs slirp4netns: a CI run must measure, not pass on a skip.
      assert.ok(!underCI(), `the nat benchmark cannot run under CI: ${String(nat.skipped)}`);
      assert.match(String(nat.skipped), /root|slirp4netns/);
      assert.match(stdout, /skipped/);
      return;
    }
    assert.equal(nat.failed, undefined, `nat benchmark failed: ${String(nat.failed)}`);
    assert.equal(report.rows.filter((r) => r.group === 'nat vs slirp4netns').length, 5);
    for (const key of ['bulkOut', 'bulkIn', 'tcpRr', 'tcpCrr', 'udpRr']) {
      const f = nat[key] as { nat: number; slirp: number; ratio: number; pairedRatio: number };
      assert.ok(f.nat > 0 && f.slirp > 0 && Number.isFinite(f.ratio), `${key}: ${JSON.stringify(f)}`);
      assert.ok(Number.isFinite(f.pairedRatio) && f.pairedRatio > 0, `${key}: run-by-run ratio ${JSON.stringify(f)}`);
    }
  });

  it('latency section: p50 and p99 of ping, UDP and TCP at every interval, stack and kernel (as root)', async () => {
    const { stdout } = await runBench(['--quick', '--sections', 'latency', '--no-build', '--out', out, '--no-docs'], 55_000);
    const report = readReport();
    const latency = report.results.latency as Record<string, unknown> | Array<Record<string, unknown>>;
    if (!isRoot()) {
      assert.match(String((latency as Record<string, unknown>).skipped), /root/);
      assert.match(stdout, /skipped/);
      return;
    }
    assert.ok(Array.isArray(latency), `latency benchmarks failed: ${JSON.stringify(latency)}`);
    const seen = new Set<string>();
    for (const cell of latency as Array<{ kind: string; intervalMs: number; stack: { p50: number; p99: number }; kernel: { p50: number; p99: number }; pairedRatioP50: number }>) {
      seen.add(`${cell.kind}@${cell.intervalMs}`);
      assert.ok(Number.isFinite(cell.pairedRatioP50) && cell.pairedRatioP50 > 0, `${cell.kind}@${cell.intervalMs}: run-by-run ratio ${cell.pairedRatioP50}`);
      for (const [who, p] of [['stack', cell.stack], ['kernel', cell.kernel]] as const) {
        assert.ok(p.p50 > 0 && Number.isFinite(p.p50), `${cell.kind}@${cell.intervalMs} ${who} p50 ${p.p50}`);
        assert.ok(p.p99 >= p.p50, `${cell.kind}@${cell.intervalMs} ${who}: p99 ${p.p99} below p50 ${p.p50}`);
      }
    }
    for (const kind of ['ping', 'udp', 'tcp']) for (const i of [0, 1, 2, 5, 10]) assert.ok(seen.has(`${kind}@${i}`), `${kind} every ${i} ms measured`);
    const rows = report.rows.filter((r) => r.group === 'latency');
    assert.equal(rows.length, 15);
    for (const r of rows) assert.match(r.note ?? '', /; run by run \d+\.\d{3}$/, r.name);
  });
});
