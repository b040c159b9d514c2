import { emptyArray } from '../src/empty-array.js';

/**
 * Whether a link's inbound batch is being processed: the frames of one device wake-up, handed
 * up one after another in one synchronous run (tap-link.ts marks it). Work that would otherwise
 * wait for the end of the task in a microtask can end with the batch instead, which the link
 * marks anyway: the stack's per-task clock (unref-scheduler.ts) drops its reading there, so a
 * request/response transaction (one batch of one frame) queues no promise reaction for it.
 *
 * Module state, one per thread: a batch runs start to end within one task, and batches nest only
 * when one link's processing delivers into another synchronously.
 */
let depth = 0;
/** Run when the outermost batch ends (one hook: the clock's). */
let atEnd: (() => void) | undefined;
/** Run when an outermost batch begins with the time its frames were read (the clock's hook). */
let atStart: ((time: number) => void) | undefined;
/** Work registered for the end of the current outermost batch (atInboundBatchEnd), in order. */
const pending: Array<() => void> = [];

/** True between a link's `inboundBatchStart` and its matching `inboundBatchEnd`. */
export function inInboundBatch(): boolean {
  return depth > 0;
}

/**
 * A link begins handing up one wake-up's frames. Must be matched, in the same task (a `finally`).
 * `time`: when the frames were read, on the stack's clock (clock-base.ts), where the device says
 * (the TAP addon reads it once per wake-up): the stack's per-task clock takes it as its reading
 * for the batch instead of reading the clock itself. Ignored for a nested batch.
 */
export function inboundBatchStart(time?: number): void {
  if (++depth === 1 && time !== undefined && atStart !== undefined) atStart(time);
}

/** The batch's frames are handled (before the link writes the replies). */
export function inboundBatchEnd(): void {
  if (depth === 0) return;
  // Still inside the batch while it runs: what that work sends joins the batch's replies, and
  // it reads the batch's clock.
  if (depth === 1 && pending.length > 0) runPending();
  if (--depth === 0 && atEnd !== undefined) atEnd();
}

/**
 * Runs `callback` when the current outermost batch has handed up its frames, before the link
 * writes the replies (and before the clock's reading is dropped): for work that would be done
 * per frame and is wanted once per batch (the TCP layer's deferred ACKs). Returns false, doing
 * nothing, outside a batch. A callback registered while they run (by one of them) runs too.
 */
export function atInboundBatchEnd(callback: () => void): boolean {
  if (depth === 0) return false;
  pending.push(callback);
  return true;
}

function runPending(): void {
  try {
    for (let i = 0; i < pending.length; i++) pending[i]();
  } finally {
    // Not `length = 0`: that drops the array's storage, and the next batch's first callback
    // allocated it again (emptyArray).
    emptyArray(pending);
  }
}

/** @internal Sets what takes the time an outermost batch was read (the per-task clock's hook). */
export function setInboundBatchStart(hook: (time: number) => void): void {
  atStart = hook;
}

/** @internal Sets what runs at the end of the outermost batch (the per-task clock's hook). */
export function setInboundBatchEnd(hook: () => void): void {
  atEnd = hook;
}
