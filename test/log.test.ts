import assert from 'node:assert/strict';
import { format } from 'node:util';
import createDebug from 'debug';
import { LOG_ROOT, enabledCheck, log, logger } from '../src/log.js';
import { hasFastProperties } from './helpers/fast-properties.js';

describe('log', () => {
  // Leave DEBUG as the person running the tests set it.
  let saved = '';
  beforeEach(() => {
    saved = createDebug.disable();
  });
  afterEach(() => {
    createDebug.disable();
    if (saved !== '') createDebug.enable(saved);
  });

  it('has one namespace per layer under rx-netstack', () => {
    assert.equal(LOG_ROOT, 'rx-netstack');
    assert.deepEqual(
      Object.values(log).map((d) => d.namespace),
      ['link', 'eth', 'arp', 'ipv4', 'icmp', 'udp', 'tcp'].map((l) => `rx-netstack:${l}`),
    );
  });

  it('logger(sub) returns the same debugger for the same namespace', () => {
    const a = logger('tcp:cc');
    assert.equal(a.namespace, 'rx-netstack:tcp:cc');
    assert.equal(logger('tcp:cc'), a);
    assert.notEqual(logger('tcp:timers'), a);
  });

  it('enabled follows DEBUG-style patterns, so hot paths can skip formatting', () => {
    assert.equal(log.eth.enabled, false);
    createDebug.enable('rx-netstack:eth,rx-netstack:tcp:*');
    assert.equal(log.eth.enabled, true);
    assert.equal(log.arp.enabled, false);
    assert.equal(logger('tcp:cc').enabled, true);

    const lines: string[] = [];
    const savedLog = log.eth.log;
    // debug hands its sink printf-style arguments, as console.error would take them.
    log.eth.log = (...args: unknown[]) => void lines.push(format(...args));
    try {
      if (log.eth.enabled) log.eth('drop %s', 'truncated');
      assert.equal(lines.length, 1);
      assert.match(lines[0], /drop truncated/);
    } finally {
      log.eth.log = savedLog;
    }
  });

  it("keeps debug's module object in fast mode, so `enabled` checks on hot paths are field loads", () => {
    // Dictionary mode made every `log.X.enabled` a generic look-up (createDebug.namespaces).
    assert.equal(hasFastProperties(createDebug), true);
    // And enabling and disabling still work through it, and leave it fast.
    createDebug.enable('rx-netstack:tcp');
    assert.equal(log.tcp.enabled, true);
    createDebug.disable();
    assert.equal(log.tcp.enabled, false);
    log.tcp.enabled = true;
    try {
      assert.equal(log.tcp.enabled, true);
    } finally {
      // null ends the override (debug's setter): DEBUG decides again.
      (log.tcp as { enabled: boolean | null }).enabled = null;
    }
    assert.equal(hasFastProperties(createDebug), true);
  });

  it('enabledCheck(d) answers as d.enabled does: patterns, enable/disable, the override', () => {
    const tcpOn = enabledCheck(log.tcp);
    const ccOn = enabledCheck(logger('tcp:cc'));
    assert.equal(tcpOn(), false);
    createDebug.enable('rx-netstack:tcp');
    assert.equal(tcpOn(), true);
    assert.equal(ccOn(), false);
    createDebug.enable('rx-netstack:tcp:*');
    assert.equal(tcpOn(), false);
    assert.equal(ccOn(), true);
    createDebug.disable();
    assert.equal(ccOn(), false);
    log.tcp.enabled = true;
    try {
      assert.equal(tcpOn(), true);
    } finally {
      (log.tcp as { enabled: boolean | null }).enabled = null;
    }
    assert.equal(tcpOn(), false);
  });
});
