import { setFlagsFromString } from 'node:v8';

/**
 * Whether V8 keeps `object`'s properties in fast mode (a hidden class, fields at fixed offsets)
 * rather than as a hash table (dictionary mode), where every property access from optimized
 * code is a generic look-up. V8's own test (`%HasFastProperties`), enabled for this process.
 */
export function hasFastProperties(object: object): boolean {
  setFlagsFromString('--allow-natives-syntax');
  const check = new Function('o', 'return %HasFastProperties(o)') as (o: object) => boolean;
  return check(object);
}
