import assert from 'node:assert/strict';
import { NO_PACKET, RecordLender } from '../../../streams/pipeline/lent-record.js';
import { PacketBuffer } from '../../../src/packet-buffer.js';

describe('pipeline/RecordLender', () => {
  it('lends its one record, not again while it is lent (a nested send makes a fresh one), and takes it back empty', () => {
    const record = { pb: NO_PACKET, onError: undefined as (() => void) | undefined, dst: 0 };
    const lender = new RecordLender(record);
    const r = lender.take();
    assert.equal(r, record);
    r!.pb = PacketBuffer.alloc(10);
    r!.onError = () => undefined;
    r!.dst = 7;
    assert.equal(lender.take(), undefined, 'lent out: a nested send gets nothing');
    lender.giveBack();
    assert.equal(record.pb, NO_PACKET, 'nothing of the packet stays reachable');
    assert.equal(record.onError, undefined);
    assert.equal(lender.take(), record, 'free again');
  });

  it('made without a record (the sink may keep what it gets) never lends', () => {
    const lender = new RecordLender<{ pb: PacketBuffer; onError: undefined }>(undefined);
    assert.equal(lender.take(), undefined);
    assert.equal(lender.take(), undefined);
  });
});
