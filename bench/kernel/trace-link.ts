/**
 * A Link wrapper that prints one line per TCP/IPv4 frame in either direction (time in ms from the
 * first frame, direction, flags, relative sequence numbers, payload length, window), for reading
 * where an exchange waited. Bench-only: frames are decoded only here, and only when asked.
 */
import type { Link } from '../../streams/links/link.js';
import { watchedLink } from '../lib/watched-link.js';

export function traceLink(link: Link, print: (line: string) => void = console.log): Link {
  let t0 = -1;
  const base = new Map<string, number>();
  const line = (dir: string, frame: Uint8Array, payloadExtra = 0): void => {
    const ip = link.layer === 'ip' ? 0 : 14;
    if (frame.length < ip + 40 || frame[ip + 9] !== 6) return;
    const dv = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
    const ihl = (frame[ip] & 15) * 4;
    const total = dv.getUint16(ip + 2);
    const t = ip + ihl;
    const doff = (frame[t + 12] >> 4) * 4;
    const len = total - ihl - doff + payloadExtra;
    const sport = dv.getUint16(t);
    const dport = dv.getUint16(t + 2);
    const seq = dv.getUint32(t + 4);
    const ack = dv.getUint32(t + 8);
    const f = frame[t + 13];
    const flags = `${f & 2 ? 'S' : ''}${f & 1 ? 'F' : ''}${f & 4 ? 'R' : ''}${f & 8 ? 'P' : ''}${f & 16 ? '.' : ''}`;
    const now = performance.now();
    if (t0 < 0) t0 = now;
    const key = `${sport}>${dport}`;
    const rkey = `${dport}>${sport}`;
    if (f & 2) base.set(key, seq);
    const b = base.get(key) ?? seq;
    const rb = base.get(rkey) ?? ack;
    print(`${(now - t0).toFixed(2).padStart(9)} ${dir} ${sport}>${dport} ${flags.padEnd(3)} seq ${(seq - b) >>> 0} ack ${(ack - rb) >>> 0} len ${len} win ${dv.getUint16(t + 14)}`);
  };
  return watchedLink(link, (frame) => line('in ', frame), (frame) => line('out', frame));
}
