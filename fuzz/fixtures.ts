/**
 * Reproducers on disk: a pcap file per failure under test/fixtures/fuzz/, each frame stamped
 * with its virtual time (ms from the session's start), so that Wireshark can open it and the
 * replay test feeds the frames at the same instants.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodePcapRecord, pcapGlobalHeader, readPcap } from '../src/wire/pcap.js';
import type { RecordedFrame } from './run-fuzz.js';

export const FIXTURE_DIR = new URL('../test/fixtures/fuzz/', import.meta.url).pathname;

export function writeFixture(name: string, frames: readonly RecordedFrame[], dir = FIXTURE_DIR): string {
  mkdirSync(dir, { recursive: true });
  const parts = [pcapGlobalHeader(), ...frames.map((f) => encodePcapRecord(f.at, f.bytes))];
  const path = join(dir, `${name}.pcap`);
  writeFileSync(path, Buffer.concat(parts));
  return path;
}

export function readFixture(path: string): RecordedFrame[] {
  const r = readPcap(new Uint8Array(readFileSync(path)));
  if (!r.ok) throw new Error(`${path}: not a pcap file (${r.reason})`);
  return r.records.map((rec) => ({ at: Math.round(rec.timestampUs / 1000), bytes: rec.data.slice() }));
}

export function listFixtures(dir = FIXTURE_DIR): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names.filter((n) => n.endsWith('.pcap')).sort().map((n) => join(dir, n));
}
