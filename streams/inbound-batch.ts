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

/** True between a link's `inboundBatchStart` and its matching `inboundBatchEnd`. */
export function inInboundBatch(): boolean {
  return depth > 0;
}

/** A link begins handing up one wake-up's frames. Must be matched, in the same task (a `finally`). */
export function inboundBatchStart(): void {
  depth++;
}

/** The batch's frames are handled (before the link writes the replies). */
export function inboundBatchEnd(): void {
  if (depth === 0) return;
  if (--depth === 0 && atEnd !== undefined) atEnd();
}

/** @internal Sets what runs at the end of the outermost batch (the per-task clock's hook). */
export function setInboundBatchEnd(hook: () => void): void {
  atEnd = hook;
}
