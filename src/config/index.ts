/** Configuration: branded types and io-ts codecs, the stack-config decoder, its errors. */
export * from './codecs.js';
export { closedObject, listOf, refinement, describedAs, describeCodec } from './object-codec.js';
export type { ClosedObjectCodec, ClosedObjectType, ClosedObjectOutput } from './object-codec.js';
export { ConfigError, decodeOrThrow, formatProblems, problemsFromErrors } from './problems.js';
export type { ConfigErrorCode, ConfigProblem } from './problems.js';
export * from './protocol-config.js';
export * from './stack-config.js';
export * from './ipv6-config.js';
