/**
 * TCP control bits as tests write them: `'SYN'`, `'SYN|ACK'`, `'FIN, ACK'`, or the bitmask
 * (`TcpFlags.SYN | TcpFlags.ACK` from `rx-netstack/core`'s `wire`).
 */
import { NetstackError, wire } from '../../src/index.js';

/** Flag names joined by `|`, `,`, `+` or spaces (case-insensitive), or the numeric bitmask. */
export type TcpFlagsLike = string | number;

const NAMES = Object.entries(wire.TcpFlags) as ReadonlyArray<readonly [string, number]>;

/**
 * The bitmask of a flags spec. An empty string is no flag at all.
 *
 * @throws NetstackError `ERR_INVALID_ARG_VALUE` naming an unknown flag.
 */
export function tcpFlagBits(flags: TcpFlagsLike): number {
  if (typeof flags === 'number') {
    if (Number.isInteger(flags) && flags >= 0 && flags <= 0xff) return flags;
    throw new NetstackError('ERR_INVALID_ARG_VALUE', `TCP flags: ${flags} is not a byte`);
  }
  let bits = 0;
  for (const part of flags.split(/[\s|,+]+/)) {
    if (part === '') continue;
    const found = NAMES.find(([name]) => name === part.toUpperCase());
    if (found === undefined) {
      throw new NetstackError('ERR_INVALID_ARG_VALUE', `TCP flags: unknown flag "${part}" (known: ${NAMES.map(([n]) => n).join(', ')})`);
    }
    bits |= found[1];
  }
  return bits;
}

/** `'SYN|ACK'` for the bits 0x12; `''` for none. Bits are named in the order of the header. */
export function formatTcpFlags(bits: number): string {
  const names: string[] = [];
  for (const [name, bit] of NAMES) if ((bits & bit) !== 0) names.push(name);
  return names.join('|');
}
