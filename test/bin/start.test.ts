/**
 * `npm start` (dist/bin/start.js, compiled, plain node): its privilege decision for root, for a
 * user who has sudo and for one who has not, and what it does with a namespace an earlier start
 * left. `npm test` compiles first; run `npm run build:ts` before running this file alone.
 *
 * Not root is a real unprivileged user (uid 65534, through spawn's uid option) when the tests
 * run as root; `sudo` is a stub script on a PATH of the test's own that prints its arguments and
 * exits 7, so nothing is ever run as root by it.
 */
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findOnPath, hasCapability, planPrivilege, CAP_NET_ADMIN } from '../../bin/privilege.js';
import { claimNamespace, inspectNamespace, processStartTime, OWNER_DIR } from '../../bin/netns-owner.js';
import { describeKernelPeer } from '../helpers/netns.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const START = join(root, 'dist/bin/start.js');
const NOBODY = 65534;
const SYSTEM_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** A directory (readable by anybody) with a stub `sudo`, and an empty one. */
function makeBins(): { dir: string; stub: string; empty: string } {
  const dir = mkdtempSync(join(tmpdir(), 'rx-start-'));
  const stub = join(dir, 'stub');
  const empty = join(dir, 'empty');
  mkdirSync(stub);
  mkdirSync(empty);
  writeFileSync(join(stub, 'sudo'), '#!/bin/sh\necho "stub-sudo $*"\nexit 7\n');
  for (const p of [dir, stub, empty]) chmodSync(p, 0o755);
  chmodSync(join(stub, 'sudo'), 0o755);
  return { dir, stub, empty };
}

/** Runs start.js to its end, as a user who is not root (when we are root: uid 65534). */
function runStartAsUser(env: NodeJS.ProcessEnv): Promise<Run> {
  const asNobody = process.getuid?.() === 0 ? { uid: NOBODY, gid: NOBODY } : {};
  return new Promise((resolve) => {
    execFile(process.execPath, [START], { env, timeout: 15_000, ...asNobody }, (error, stdout, stderr) =>
      resolve({ code: error === null ? 0 : (error.code as number | null), stdout, stderr }));
  });
}

describe('npm start: the privilege decision (bin/privilege.ts)', () => {
  let bins: ReturnType<typeof makeBins>;
  before(() => {
    if (!existsSync(START)) throw new Error(`${START} is missing: run \`npm run build:ts\` (npm test does it)`);
    bins = makeBins();
  });
  after(() => rmSync(bins.dir, { recursive: true, force: true }));

  it('plans: root runs here whatever PATH holds; not root uses the sudo found on PATH, or none', () => {
    assert.deepEqual(planPrivilege({ uid: 0, path: bins.stub, viaSudo: false }), { kind: 'here' });
    assert.deepEqual(planPrivilege({ uid: 1000, path: `${bins.empty}:${bins.stub}`, viaSudo: false }),
      { kind: 'sudo', sudo: join(bins.stub, 'sudo') });
    assert.deepEqual(planPrivilege({ uid: 1000, path: bins.empty, viaSudo: false }), { kind: 'none', uid: 1000 });
    assert.deepEqual(planPrivilege({ uid: 1000, path: bins.stub, viaSudo: true }), { kind: 'sudo-failed', uid: 1000 });
    assert.equal(findOnPath('sudo', `relative/dir:${bins.empty}`), undefined, 'relative PATH entries are not searched');
  });

  it('reads capabilities from CapEff', () => {
    assert.equal(hasCapability(CAP_NET_ADMIN, 'Name:\tx\nCapEff:\t0000000000001000\n'), true);
    assert.equal(hasCapability(CAP_NET_ADMIN, 'Name:\tx\nCapEff:\t0000000000000000\n'), false);
    assert.equal(hasCapability(21, 'CapEff:\t000001ffffffffff\n'), true);
  });

  it('not root, sudo on PATH: runs itself again through sudo (node by absolute path, CI/DEBUG/RX_NETSTACK_* kept) and exits with its status', async () => {
    const run = await runStartAsUser({ PATH: bins.stub, CI: 'true', DEBUG: 'rx-netstack:*', RX_NETSTACK_NETNS: 'rxnetstack', HOME: '/' });
    assert.equal(run.code, 7, `the stub's status comes back; stderr: ${run.stderr}`);
    const line = run.stdout.split('\n').find((l) => l.startsWith('stub-sudo '));
    assert.ok(line !== undefined, `sudo was called: ${run.stdout}`);
    const args = line.slice('stub-sudo '.length).split(' ');
    assert.deepEqual(args.slice(0, 2), ['--', 'env']);
    assert.deepEqual(args.slice(-2), [process.execPath, START]);
    for (const kept of ['CI=true', 'DEBUG=rx-netstack:*', 'RX_NETSTACK_NETNS=rxnetstack', 'RX_NETSTACK_VIA_SUDO=1']) {
      assert.ok(args.includes(kept), `${kept} in ${line}`);
    }
    assert.ok(!args.some((a) => a.startsWith('HOME=')), 'only the listed variables go through');
    assert.match(run.stderr, /need root: running this again as root through .*\/sudo$/m);
  });

  it('not root, no sudo: exits 1 saying that root is needed, how to get it, and the no-root demo', async () => {
    const run = await runStartAsUser({ PATH: bins.empty });
    assert.equal(run.code, 1);
    assert.equal(run.stdout, '');
    assert.match(run.stderr, /needs root \(you are uid \d+, and there is no sudo on PATH\)/);
    assert.match(run.stderr, /su -c "npm start"/);
    assert.match(run.stderr, /examples\/memory-pair\.ts/);
    assert.doesNotMatch(run.stderr, /^\s+at /m, 'no stack trace');
  });

  it('run by its own sudo hop but still not root: exits 1 instead of calling sudo again', async () => {
    const run = await runStartAsUser({ PATH: bins.stub, RX_NETSTACK_VIA_SUDO: '1' });
    assert.equal(run.code, 1);
    assert.doesNotMatch(run.stdout, /stub-sudo/);
    assert.match(run.stderr, /not root/);
  });
});

describe('npm test: scripts/test.mjs runs mocha as root, or says why not', () => {
  const TEST_RUNNER = join(root, 'scripts/test.mjs');
  let bins: ReturnType<typeof makeBins>;
  before(() => {
    bins = makeBins();
  });
  after(() => rmSync(bins.dir, { recursive: true, force: true }));

  const runAsUser = (env: NodeJS.ProcessEnv): Promise<Run> => {
    const asNobody = process.getuid?.() === 0 ? { uid: NOBODY, gid: NOBODY } : {};
    return new Promise((resolve) => {
      execFile(process.execPath, [TEST_RUNNER, '--version'], { cwd: root, env, timeout: 15_000, ...asNobody }, (error, stdout, stderr) =>
        resolve({ code: error === null ? 0 : (error.code as number | null), stdout, stderr }));
    });
  };

  it('not root, sudo on PATH: mocha (with its arguments) through sudo, its status returned', async () => {
    const run = await runAsUser({ PATH: bins.stub, CI: 'true' });
    assert.equal(run.code, 7, run.stderr);
    assert.match(run.stdout, new RegExp(`^stub-sudo -- env CI=true RX_NETSTACK_VIA_SUDO=1 ${process.execPath} \\S+/node_modules/mocha/bin/mocha\\.js --version$`, 'm'));
  });

  it('not root, no sudo: mocha runs here after a banner saying the kernel-peer tests are skipped', async () => {
    const run = await runAsUser({ PATH: bins.empty });
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^\d+\.\d+\.\d+$/m, 'mocha ran');
    assert.match(run.stderr, /no sudo: the kernel-peer tests .* will be SKIPPED/s);
  });
});

describe('npm start: namespace owner records (bin/netns-owner.ts)', () => {
  let dir: string;
  let places: { netnsDir: string; ownerDir: string };
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'rx-owner-'));
    places = { netnsDir: join(dir, 'netns'), ownerDir: join(dir, 'owners') };
    mkdirSync(places.netnsDir);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('absent, in use (live owner), leftover (owner gone or pid recycled), foreign (no record)', () => {
    assert.deepEqual(inspectNamespace('ns1', places), { kind: 'absent' });
    writeFileSync(join(places.netnsDir, 'ns1'), '');
    assert.deepEqual(inspectNamespace('ns1', places), { kind: 'foreign' });
    const release = claimNamespace('ns1', places);
    assert.deepEqual(inspectNamespace('ns1', places),
      { kind: 'in-use', owner: { pid: process.pid, startTime: processStartTime(process.pid)! } });
    // The same pid started at another time is another process: the owner is gone.
    writeFileSync(join(places.ownerDir, 'ns1.owner'), JSON.stringify({ pid: process.pid, startTime: '1' }));
    assert.equal(inspectNamespace('ns1', places).kind, 'leftover');
    release();
    assert.equal(existsSync(join(places.ownerDir, 'ns1.owner')), false);
    assert.equal(inspectNamespace('ns1', places).kind, 'foreign');
  });
});

/** A pid that belonged to a process that has exited (and been reaped). */
async function deadPid(): Promise<number> {
  const child = spawn('true');
  await new Promise((resolve) => child.once('exit', resolve));
  return child.pid!;
}

function netnsExists(name: string): boolean {
  return existsSync(`/var/run/netns/${name}`);
}

/** Starts start.js as root with namespace `netns`; resolves `ready` on the line "ready". */
function startAsRoot(netns: string, path: string): {
  child: ChildProcess;
  err: () => string;
  /** Resolves as soon as stderr matches (checked on each chunk, not by polling). */
  stderrMatch: (pattern: RegExp) => Promise<void>;
  ready: Promise<void>;
  exit: Promise<number | null>;
} {
  const child = spawn(process.execPath, [START], {
    env: { ...process.env, PATH: path, RX_NETSTACK_NETNS: netns },
    stdio: 'pipe',
  });
  let out = '';
  let err = '';
  child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      if (/^ready$/m.test(out)) resolve();
    });
    child.once('exit', (code) => reject(new Error(`exited ${code} before ready: ${err} ${out}`)));
  });
  ready.catch(() => undefined);
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const stderrMatch = (pattern: RegExp): Promise<void> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        if (!pattern.test(err)) return;
        child.stderr!.off('data', check);
        resolve();
      };
      child.stderr!.on('data', check);
      child.once('exit', () => reject(new Error(`exited before stderr matched ${pattern}: ${err}`)));
      check();
    });
  return { child, err: () => err, stderrMatch, ready, exit };
}

describeKernelPeer('npm start as root, in a namespace of the test\'s own', () => {
  let bins: ReturnType<typeof makeBins>;
  let netns: string;
  let child: ChildProcess | undefined;
  let counter = 0;
  before(() => {
    if (!existsSync(START)) throw new Error(`${START} is missing: run \`npm run build:ts\``);
    bins = makeBins();
  });
  beforeEach(() => {
    // rxns-<pid>-: the kernel-peer harness deletes it after a crash of this test process.
    netns = `rxns-${process.pid}-start${counter++}`;
  });
  afterEach(() => {
    if (child !== undefined && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    child = undefined;
    if (netnsExists(netns)) execFileSync('ip', ['netns', 'del', netns], { timeout: 10_000 });
    rmSync(join(OWNER_DIR, `${netns}.owner`), { force: true });
  });
  after(() => rmSync(bins.dir, { recursive: true, force: true }));

  it('root with a (stub) sudo on PATH: never calls it, serves, records itself as owner; Ctrl-C twice (terminal + npm) still cleans up', async () => {
    const run = startAsRoot(netns, `${bins.stub}:${SYSTEM_PATH}`);
    child = run.child;
    await run.ready;
    assert.doesNotMatch(run.err(), /sudo/i);
    assert.ok(netnsExists(netns));
    const owner = JSON.parse(readFileSync(join(OWNER_DIR, `${netns}.owner`), 'utf8')) as { pid: number };
    assert.equal(owner.pid, run.child.pid);
    assert.equal(inspectNamespace(netns).kind, 'in-use');
    // What a Ctrl-C under npm delivers: SIGINT from the terminal, and again forwarded by npm,
    // which may land while the first one's cleanup runs (it used to kill the process there).
    run.child.kill('SIGINT');
    await run.stderrMatch(/SIGINT: stopping/);
    run.child.kill('SIGINT');
    assert.equal(await run.exit, 0, run.err());
    assert.match(run.err(), /stopped \(\d+ frames received\)/);
    assert.equal(netnsExists(netns), false, 'the namespace is removed');
    assert.equal(existsSync(join(OWNER_DIR, `${netns}.owner`)), false, 'and its owner record');
  });

  it('a namespace left by a killed start (its owner gone) is removed, said so, and made afresh', async () => {
    execFileSync('ip', ['netns', 'add', netns], { timeout: 10_000 });
    mkdirSync(OWNER_DIR, { recursive: true });
    const gone = await deadPid();
    writeFileSync(join(OWNER_DIR, `${netns}.owner`), JSON.stringify({ pid: gone, startTime: '1' }));
    const run = startAsRoot(netns, SYSTEM_PATH);
    child = run.child;
    await run.ready;
    assert.match(run.err(), new RegExp(`removed namespace ${netns}, left by an earlier npm start \\(pid ${gone}\\)`));
    assert.match(run.err(), new RegExp(`created network namespace ${netns}`));
    run.child.kill('SIGTERM');
    assert.equal(await run.exit, 0, run.err());
    assert.equal(netnsExists(netns), false);
  });

  it('a namespace whose owner still runs is reported and left alone (exit 1)', async () => {
    execFileSync('ip', ['netns', 'add', netns], { timeout: 10_000 });
    mkdirSync(OWNER_DIR, { recursive: true });
    writeFileSync(join(OWNER_DIR, `${netns}.owner`), JSON.stringify({ pid: process.pid, startTime: processStartTime(process.pid) }));
    const run = startAsRoot(netns, SYSTEM_PATH);
    child = run.child;
    assert.equal(await run.exit, 1);
    assert.match(run.err(), new RegExp(`namespace ${netns} belongs to another npm start that is still running \\(pid ${process.pid}\\)`));
    assert.ok(netnsExists(netns), 'not deleted');
  });

  it('a namespace without owner record is reported, used as it is, and left in place', async () => {
    execFileSync('ip', ['netns', 'add', netns], { timeout: 10_000 });
    const run = startAsRoot(netns, SYSTEM_PATH);
    child = run.child;
    await run.ready;
    assert.match(run.err(), new RegExp(`namespace ${netns} already exists and was not made by npm start`));
    run.child.kill('SIGINT');
    assert.equal(await run.exit, 0, run.err());
    assert.ok(netnsExists(netns), 'not ours: it stays');
  });
});
