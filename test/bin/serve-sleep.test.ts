/**
 * `rx-netstack serve --sleep own|libuv` (default libuv): with `own`, after a wake-up the TAP
 * device's handle waits itself, with poll(2) of the device and libuv's own fd
 * (native/tap-own-wait.c), and serves the next frame there. The option's parsing, and `serve()`
 * over a real TAP device in a namespace of the test's own: spaced pings and UDP echoes from the
 * kernel side, every one answered; with `--sleep own` frames served by the own wait (the
 * device's `ownSleeps`), by default and with `--sleep libuv` none.
 */
import assert from 'node:assert/strict';
import { parseServe } from '../../bin/cli-args.js';
import { serve, type Server } from '../../bin/serve.js';
import { describeKernelPeer, useKernelPeer } from '../helpers/netns.js';
import { PY_ICMP_PING } from '../helpers/py-icmp-ping.js';

const BASE = ['--tap', 'rxt9', '--ip', '198.18.0.2/24'];
const SPACED = 30;

describe('bin/cli-args: serve --sleep', () => {
  it('libuv by default (no field), --sleep own kept, anything else named as a problem', () => {
    const plain = parseServe(BASE);
    assert.ok(plain.kind === 'serve');
    assert.equal(plain.args.sleep, undefined);
    const libuv = parseServe([...BASE, '--sleep', 'libuv']);
    assert.ok(libuv.kind === 'serve');
    assert.equal(libuv.args.sleep, undefined);
    const own = parseServe([...BASE, '--sleep', 'own']);
    assert.ok(own.kind === 'serve');
    assert.equal(own.args.sleep, 'own');
    const bad = parseServe([...BASE, '--sleep', 'never']);
    assert.ok(bad.kind === 'invalid');
    assert.deepEqual(bad.problems, ['--sleep: "never" is not own or libuv']);
  });
});

/** In the peer: SPACED pings and SPACED UDP echoes, 20 ms apart, each awaited; prints how many came back. */
const PY_SPACED = `${PY_ICMP_PING}
pings = 0
for seq in range(${SPACED}):
    time.sleep(0.02)
    pings += ping('198.18.0.2', seq, 56) is True
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.settimeout(2)
echoes = 0
for i in range(${SPACED}):
    time.sleep(0.02)
    m = b'echo %d' % i
    u.sendto(m, ('198.18.0.2', 7))
    echoes += u.recvfrom(100)[0] == m
print(pings, echoes)`;

describeKernelPeer('bin/serve: the wait between wake-ups (--sleep)', function () {
  this.timeout(30_000);
  const peer = useKernelPeer({ tapName: 'rxslp0' });

  /** serve() on the peer's device with `sleep`; the answers counted in the peer and the device's counters' growth. */
  async function spaced(sleep: 'own' | 'libuv' | undefined): Promise<{ pings: number; echoes: number; ownSleeps: number; ownSleepExits: number }> {
    let server: Server | undefined;
    try {
      server = await serve({
        tap: peer().tapName,
        netns: peer().netns,
        ip: '198.18.0.2/24',
        services: [{ name: 'udp-echo', port: 7 }],
        ...(sleep === undefined ? {} : { sleep }),
      });
      const before = server.tap.device.stats();
      const [pings, echoes] = (await peer().python(PY_SPACED, [], { timeoutMs: 20_000 })).trim().split(' ').map(Number);
      const after = server.tap.device.stats();
      return { pings, echoes, ownSleeps: after.ownSleeps - before.ownSleeps, ownSleepExits: after.ownSleepExits - before.ownSleepExits };
    } finally {
      await server?.close();
    }
  }

  it('--sleep own: every ping and echo answered, frames served from the own wait', async () => {
    const r = await spaced('own');
    assert.deepEqual([r.pings, r.echoes], [SPACED, SPACED]);
    // A frame comes 20 ms after the last answer; the wait lasts until libuv's next timer or
    // until something of libuv's (the python child's pipes, this test's timers) wakes it, so not
    // every frame is served there: 40 to 60 of 60 on a quiet machine, loose bounds here.
    assert.ok(r.ownSleeps >= SPACED / 3, `frames served from the own wait: ${r.ownSleeps} (waits handed back: ${r.ownSleepExits})`);
  });

  for (const sleep of [undefined, 'libuv'] as const) {
    it(`${sleep === undefined ? 'by default' : '--sleep libuv'}: the same answers, every wait libuv's`, async () => {
      const r = await spaced(sleep);
      assert.deepEqual([r.pings, r.echoes], [SPACED, SPACED]);
      assert.deepEqual([r.ownSleeps, r.ownSleepExits], [0, 0]);
    });
  }
});
