/** MAC addresses: 6-byte arrays on the wire and in tables; strings only at the API and in logs. */

export type MacAddr = Uint8Array;

export const MAC_BROADCAST: MacAddr = new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
export const MAC_ZERO: MacAddr = new Uint8Array(6);

/** Parses `aa:bb:cc:dd:ee:ff` (or with `-`); undefined when malformed. */
export function parseMac(text: string): MacAddr | undefined {
  const m = /^([0-9a-fA-F]{2})[:-]([0-9a-fA-F]{2})[:-]([0-9a-fA-F]{2})[:-]([0-9a-fA-F]{2})[:-]([0-9a-fA-F]{2})[:-]([0-9a-fA-F]{2})$/.exec(text);
  if (!m) return undefined;
  const mac = new Uint8Array(6);
  for (let i = 0; i < 6; i++) mac[i] = parseInt(m[i + 1], 16);
  return mac;
}

export function formatMac(mac: Uint8Array, offset = 0): string {
  let s = '';
  for (let i = 0; i < 6; i++) {
    const b = mac[offset + i];
    s += (i ? ':' : '') + (b < 16 ? '0' : '') + b.toString(16);
  }
  return s;
}

/** Compares 6 bytes at the given offsets without allocating. */
export function macEquals(a: Uint8Array, aOffset: number, b: Uint8Array, bOffset = 0): boolean {
  return (
    a[aOffset] === b[bOffset] && a[aOffset + 1] === b[bOffset + 1] && a[aOffset + 2] === b[bOffset + 2] &&
    a[aOffset + 3] === b[bOffset + 3] && a[aOffset + 4] === b[bOffset + 4] && a[aOffset + 5] === b[bOffset + 5]
  );
}

/** A MAC as a number (48 bits fit exactly in a double): a Map key without allocation. */
export function macKey(mac: Uint8Array, offset = 0): number {
  return (
    mac[offset] * 0x10000000000 + mac[offset + 1] * 0x100000000 +
    ((mac[offset + 2] << 24) | (mac[offset + 3] << 16) | (mac[offset + 4] << 8) | mac[offset + 5]) >>> 0
  );
}

/** A random locally administered unicast MAC (02:xx:...). */
export function randomMac(random: () => number = Math.random): MacAddr {
  const mac = new Uint8Array(6);
  for (let i = 0; i < 6; i++) mac[i] = Math.floor(random() * 256);
  mac[0] = (mac[0] & 0xfc) | 0x02;
  return mac;
}
