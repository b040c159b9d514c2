import assert from 'node:assert/strict';
import { formatIpv6, ipv6Addr, Ipv6Addresses, solicitedNodeAddress, type Ipv6Addr } from '../../src/ipv6/address.js';
import { MldReporter, isReportedGroup, type MldAction, type MldReporterConfig } from '../../src/ipv6/mld-reporter.js';
import { MldRecordType, MLDV1_MESSAGE_LEN, emitMldReport, emitMldV1, mldReportLen, parseMldReport, parseMldV1, type MldQuery } from '../../src/wire/mld.js';
import { parseIcmpv6 } from '../../src/wire/icmpv6.js';
import { PacketBuffer } from '../../src/packet-buffer.js';

const LL = ipv6Addr('fe80::1234');
const SN1 = solicitedNodeAddress(ipv6Addr('fe80::1234'));
const SN2 = solicitedNodeAddress(ipv6Addr('fd00::5678'));
const SN3 = solicitedNodeAddress(ipv6Addr('fd00::9abc'));

function reporter(config: Partial<MldReporterConfig> = {}, random = () => 0.5): MldReporter {
  return new MldReporter(config, random);
}

/**
 * The actions as the wire carries them: each is emitted with the codec, its checksum verified
 * by parseIcmpv6 and parsed back, then shown as text (`v2 TO_EX ff02::1:ff00:1234`).
 */
function wire(actions: readonly MldAction[]): string[] {
  const names: Record<number, string> = {
    [MldRecordType.MODE_IS_EXCLUDE]: 'IS_EX', [MldRecordType.CHANGE_TO_EXCLUDE]: 'TO_EX', [MldRecordType.CHANGE_TO_INCLUDE]: 'TO_IN',
  };
  return actions.map((a) => {
    if (a.kind === 'report') {
      const addrs = { src: LL, dst: Ipv6Addresses.ALL_MLDV2_ROUTERS };
      const pb = PacketBuffer.alloc(0, mldReportLen(a));
      emitMldReport(a, pb, addrs);
      const icmp = parseIcmpv6(pb.bytes(), addrs);
      assert.ok(icmp.ok && icmp.value.kind === 'other' && icmp.value.type === 143, 'a valid MLDv2 report');
      const r = parseMldReport(pb.bytes());
      assert.ok(r.ok);
      return `v2 ${r.value.records.map((x) => `${names[x.type]} ${formatIpv6(x.group)}${x.sources.length > 0 ? ' +sources' : ''}`).join(', ')}`;
    }
    const dst = a.kind === 'v1-report' ? a.group : Ipv6Addresses.ALL_ROUTERS;
    const pb = PacketBuffer.alloc(0, MLDV1_MESSAGE_LEN);
    emitMldV1({ type: a.kind === 'v1-report' ? 131 : 132, group: a.group }, pb, { src: LL, dst });
    assert.ok(parseIcmpv6(pb.bytes(), { src: LL, dst }).ok);
    const m = parseMldV1(pb.bytes());
    assert.ok(m.ok);
    return `v1 ${m.value.type === 131 ? 'report' : 'done'} ${formatIpv6(m.value.group)}`;
  });
}

function query(group: Ipv6Addr, maxResponseDelayMs: number, version: 1 | 2 = 2): MldQuery {
  return { version, maxResponseDelayMs, group, sources: [], suppress: false, robustness: 2, queryIntervalS: 125 };
}

describe('ipv6/mld-reporter (RFC 3810 6, 8.2.1)', () => {
  it('a join is reported twice (robustness 2): at once, then after a random delay within the Unsolicited Report Interval', () => {
    const m = reporter({}, () => 0.5);
    m.join(SN1, 0);
    assert.equal(m.nextDeadline(), 0);
    assert.deepEqual(wire(m.expire(0)), ['v2 TO_EX ff02::1:ff00:1234']);
    assert.equal(m.nextDeadline(), 500);
    assert.deepEqual(wire(m.expire(499)), []);
    assert.deepEqual(wire(m.expire(500)), ['v2 TO_EX ff02::1:ff00:1234']);
    assert.equal(m.nextDeadline(), undefined, 'robustness spent');
    assert.equal(m.counters.stateChangeReports, 2);
  });

  it('ff02::1 and interface-local groups are joined but never reported', () => {
    const m = reporter();
    m.join(Ipv6Addresses.ALL_NODES, 0);
    m.join(ipv6Addr('ff01::1'), 0);
    assert.equal(m.nextDeadline(), undefined);
    assert.equal(m.isMember(Ipv6Addresses.ALL_NODES), true);
    m.query(query(ipv6Addr('::'), 1000), 0);
    assert.deepEqual(wire(m.expire(1000)), [], 'nothing to report to a general query');
    assert.equal(isReportedGroup(SN1), true);
  });

  it('joins made together go out in one report', () => {
    const m = reporter();
    m.join(SN1, 0);
    m.join(SN2, 0);
    m.join(Ipv6Addresses.ALL_NODES, 0);
    assert.deepEqual(wire(m.expire(0)), ['v2 TO_EX ff02::1:ff00:1234, TO_EX ff02::1:ff00:5678']);
  });

  it('joins are reference counted: the last leave is reported (TO_IN, twice), an earlier one is not', () => {
    const m = reporter();
    m.join(SN1, 0);
    m.join(SN1, 0);
    m.expire(0);
    m.expire(500);
    assert.equal(m.leave(SN1, 1000), false);
    assert.equal(m.nextDeadline(), undefined);
    assert.equal(m.leave(SN1, 2000), true);
    assert.deepEqual(wire(m.expire(2000)), ['v2 TO_IN ff02::1:ff00:1234']);
    assert.deepEqual(wire(m.expire(2500)), ['v2 TO_IN ff02::1:ff00:1234']);
    assert.deepEqual(m.groups(), []);
  });

  it('a general query is answered after a random delay within its maximum response delay, with every group (IS_EX)', () => {
    const m = reporter({}, () => 0.3);
    m.join(SN1, 0);
    m.join(SN2, 0);
    m.expire(0);
    m.expire(300);
    m.query(query(ipv6Addr('::'), 10_000), 1000);
    assert.equal(m.nextDeadline(), 4000);
    assert.deepEqual(wire(m.expire(3999)), []);
    assert.deepEqual(wire(m.expire(4000)), ['v2 IS_EX ff02::1:ff00:1234, IS_EX ff02::1:ff00:5678']);
    assert.equal(m.counters.queryReports, 1);
  });

  it('a group-specific query is answered for that group only; one for a group we are not in is ignored', () => {
    const m = reporter({}, () => 0);
    m.join(SN1, 0);
    m.join(SN2, 0);
    m.expire(0);
    m.expire(0);
    m.query(query(SN2, 1000), 100);
    m.query(query(SN3, 1000), 100);
    assert.deepEqual(wire(m.expire(100)), ['v2 IS_EX ff02::1:ff00:5678']);
    assert.equal(m.counters.queriesIgnored, 1);
  });

  it('a pending general answer due first covers a group-specific query (RFC 3810 6.2 rule 1)', () => {
    let r = 0;
    const m = reporter({}, () => r);
    m.join(SN1, 0);
    m.expire(0);
    m.expire(0);
    m.query(query(ipv6Addr('::'), 1000), 100); // due at 100
    r = 0.5;
    m.query(query(SN1, 1000), 100); // would be due at 600
    assert.deepEqual(wire(m.expire(100)), ['v2 IS_EX ff02::1:ff00:1234']);
    assert.equal(m.nextDeadline(), undefined);
  });

  it('answers are split to fit: at most maxRecordsPerReport records per report', () => {
    const m = reporter({ maxRecordsPerReport: 2 });
    m.join(SN1, 0);
    m.join(SN2, 0);
    m.join(SN3, 0);
    assert.deepEqual(wire(m.expire(0)), ['v2 TO_EX ff02::1:ff00:1234, TO_EX ff02::1:ff00:5678', 'v2 TO_EX ff02::1:ff00:9abc']);
  });

  it('after an MLDv1 query: MLDv1 reports and done for the Older Version Querier Present Timeout (260 s), then MLDv2 again', () => {
    const m = reporter({}, () => 0);
    m.join(SN1, 0);
    m.expire(0);
    m.expire(0);
    m.query(query(ipv6Addr('::'), 10_000, 1), 1000);
    assert.equal(m.v1Mode(1000), true);
    assert.deepEqual(wire(m.expire(1000)), ['v1 report ff02::1:ff00:1234']);
    m.join(SN2, 2000);
    assert.deepEqual(wire(m.expire(2000)), ['v1 report ff02::1:ff00:5678']);
    m.expire(2000);
    m.leave(SN2, 3000);
    assert.deepEqual(wire(m.expire(3000)), ['v1 done ff02::1:ff00:5678']);
    m.expire(3000);
    assert.equal(m.v1Mode(1000 + 260_000 - 1), true);
    assert.equal(m.v1Mode(1000 + 260_000), false);
    m.join(SN3, 300_000);
    assert.deepEqual(wire(m.expire(300_000)), ['v2 TO_EX ff02::1:ff00:9abc']);
    assert.equal(m.counters.v1Queries, 1);
  });

  it('the number of groups is bounded', () => {
    const m = reporter({ maxGroups: 1 });
    assert.equal(m.join(SN1, 0), true);
    assert.equal(m.join(SN2, 0), false);
    assert.equal(m.counters.tableFull, 1);
  });
});
