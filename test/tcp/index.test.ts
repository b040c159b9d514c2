import assert from 'node:assert/strict';
import * as tcp from '../../src/tcp/index.js';
import { Harness, LOCAL_ADDR, REMOTE_ADDR } from './harness.js';

describe('tcp/index', () => {
  it('exports the public API of the core', () => {
    for (const name of ['TcpConnectionCore', 'TcpListener', 'rstForSegment', 'IsnGenerator', 'resolveTcpConfig', 'clampMssToMtu', 'NewReno', 'createTcpCounters', 'addTcpCounters', 'seqLt']) {
      assert.ok(name in tcp, name);
    }
  });

  it('toString names the 4-tuple for logs', () => {
    assert.equal(new Harness().conn.toString(), '198.18.0.2:80-198.18.0.1:49500');
    assert.equal(LOCAL_ADDR >>> 24, 198);
    assert.equal(REMOTE_ADDR & 0xff, 1);
  });
});
