import assert from 'node:assert/strict';
import { NetstackError } from '../../src/errors.js';
import { clampMssToMtu, DEFAULT_TCP_CONFIG, resolveTcpConfig, windowScaleFor } from '../../src/tcp/config.js';
import { NewReno } from '../../src/tcp/congestion/newreno.js';

describe('tcp/config', () => {
  it('defaults are the documented ones', () => {
    const c = resolveTcpConfig();
    assert.equal(c, DEFAULT_TCP_CONFIG);
    assert.equal(c.mss, 1460);
    assert.equal(c.sendBufferSize, 256 * 1024);
    assert.equal(c.receiveBufferSize, 256 * 1024);
    assert.equal(c.rtoMin, 200);
    assert.equal(c.rtoMax, 60_000);
    assert.equal(c.rtoInitial, 1000);
    assert.equal(c.delayedAckTimeout, 40);
    assert.equal(c.keepalive, false);
    assert.equal(c.noDelay, false);
  });

  it('merges overrides and freezes the result', () => {
    const c = resolveTcpConfig({ noDelay: true, msl: 1000 });
    assert.equal(c.noDelay, true);
    assert.equal(c.msl, 1000);
    assert.equal(c.mss, 1460);
    assert.ok(Object.isFrozen(c));
  });

  it('names every bad option in one ERR_INVALID_CONFIG error', () => {
    try {
      resolveTcpConfig({ mss: 10, rtoMin: -1, noDelay: 1 as unknown as boolean, ...({ bogus: 1 } as object) });
      assert.fail('should throw');
    } catch (err) {
      assert.ok(err instanceof NetstackError);
      assert.equal(err.code, 'ERR_INVALID_CONFIG');
      for (const name of ['mss', 'rtoMin', 'noDelay', 'bogus']) assert.match(err.message, new RegExp(name));
    }
  });

  it('congestionControl: cubic by default; a name or a factory, anything else named in the error', () => {
    assert.equal(resolveTcpConfig().congestionControl, 'cubic');
    assert.equal(resolveTcpConfig({ congestionControl: 'newreno' }).congestionControl, 'newreno');
    const factory = () => new NewReno();
    assert.equal(resolveTcpConfig({ congestionControl: factory }).congestionControl, factory);
    assert.throws(
      () => resolveTcpConfig({ congestionControl: 'bbr' as never, mss: 10 }),
      (err: unknown) =>
        err instanceof NetstackError &&
        err.code === 'ERR_INVALID_CONFIG' &&
        /congestionControl: expected 'cubic', 'newreno' or a factory function, got bbr/.test(err.message) &&
        /mss/.test(err.message),
    );
  });

  it('rejects rtoMin above rtoMax', () => {
    assert.throws(() => resolveTcpConfig({ rtoMin: 5000, rtoMax: 1000 }), /rtoMin/);
  });

  it('clamps the MSS to the MTU', () => {
    assert.equal(clampMssToMtu(DEFAULT_TCP_CONFIG, 1500), DEFAULT_TCP_CONFIG);
    assert.equal(clampMssToMtu(DEFAULT_TCP_CONFIG, 1280).mss, 1240);
    assert.equal(clampMssToMtu(DEFAULT_TCP_CONFIG, 9000).mss, 1460, 'never raised above the configured MSS');
    assert.equal(clampMssToMtu(DEFAULT_TCP_CONFIG, 60).mss, 64, 'never below the minimum');
  });

  it('picks the smallest window scale that covers the buffer', () => {
    assert.equal(windowScaleFor(65535), 0);
    assert.equal(windowScaleFor(65536), 1);
    assert.equal(windowScaleFor(256 * 1024), 3);
    assert.equal(windowScaleFor(2 ** 30), 14);
  });
});
