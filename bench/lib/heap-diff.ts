/**
 * What a heap grew by, by kind of object: two V8 heap snapshots (v8.writeHeapSnapshot) summed
 * by node type and constructor name ("object:TcpConnectionCore", "number:" for boxed numbers,
 * "array:(object properties)" for out-of-object property stores, ...), self sizes only, and the
 * difference. For the idle-memory benchmark's breakdown (`memory-idle.ts --by-object`).
 */
import { readFileSync } from 'node:fs';

/** Objects and bytes of one kind. */
export interface HeapKind {
  count: number;
  bytes: number;
}

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[]] } };
  nodes: number[];
  strings: string[];
}

/** Node types whose names are contents (strings, numbers, code), not constructors: summed by type. */
const BY_TYPE_ONLY = new Set(['string', 'concatenated string', 'sliced string', 'number', 'code']);

/** Counts and self sizes of a snapshot file's nodes, by "type:constructor". */
export function heapKinds(file: string): Map<string, HeapKind> {
  const s = JSON.parse(readFileSync(file, 'utf8')) as Snapshot;
  const fields = s.snapshot.meta.node_fields;
  const types = s.snapshot.meta.node_types[0];
  const width = fields.length;
  const typeAt = fields.indexOf('type');
  const nameAt = fields.indexOf('name');
  const sizeAt = fields.indexOf('self_size');
  const kinds = new Map<string, HeapKind>();
  for (let i = 0; i < s.nodes.length; i += width) {
    const type = types[s.nodes[i + typeAt]];
    const key = BY_TYPE_ONLY.has(type) ? `${type}:` : `${type}:${s.strings[s.nodes[i + nameAt]].slice(0, 60)}`;
    let k = kinds.get(key);
    if (k === undefined) kinds.set(key, (k = { count: 0, bytes: 0 }));
    k.count++;
    k.bytes += s.nodes[i + sizeAt];
  }
  return kinds;
}

/** Per-unit growth from `before` to `after` (divided by `units`), largest first. */
export function heapGrowth(before: Map<string, HeapKind>, after: Map<string, HeapKind>, units: number): Array<{ kind: string; count: number; bytes: number }> {
  const rows: Array<{ kind: string; count: number; bytes: number }> = [];
  for (const [kind, a] of after) {
    const b = before.get(kind) ?? { count: 0, bytes: 0 };
    rows.push({ kind, count: (a.count - b.count) / units, bytes: (a.bytes - b.bytes) / units });
  }
  return rows.sort((x, y) => y.bytes - x.bytes);
}
