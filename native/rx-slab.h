/*
 * Receive slabs: large blocks that frames are read into directly and that JavaScript then owns
 * as (external) ArrayBuffers, so a frame is never copied after the kernel's own copy.
 *
 * A slab is filled batch after batch; once it has no room for another frame of the largest size
 * it is retired (JavaScript's views keep it alive) and a fresh one taken. When the garbage
 * collector frees a retired slab's ArrayBuffer, the slab comes back to its pool and is reused
 * (its pages stay mapped: no page faults and zeroing for every batch, as a fresh Buffer per
 * batch costs). The pool is reference-counted, so a slab outliving its device is still freed.
 *
 * Hidden slabs. V8 adds every new external ArrayBuffer's bytes to its external memory count,
 * and growth of that count since the last full collection starts another one: in bulk over TAP
 * with offload, 26-38 mark-compacts per GiB received (docs/history/topics.md "Bulk to the stack:
 * the mark-compacts were the slabs' own bookkeeping"), although almost every
 * slab dies young. V8 also runs a minor collection whenever young ArrayBuffers hold a few tens
 * of MiB (seen as scavenges for "external memory pressure" about every 45 MiB), which frees
 * them: that bounds their memory without a full collection. So the owner takes a new slab's
 * bytes back out of V8's count (tap-read.c) while the pool's budget allows:
 *   - at most `hide_max` slabs are hidden at once, so memory V8 does not know about is at most
 *     hide_max * slab_size; beyond it slabs are counted as before;
 *   - a hidden slab still alive after `hide_age` newer slabs were taken is no longer young:
 *     JavaScript keeps it (a receive buffer, a capture, a user's operator holding frames). It
 *     is unhidden (its bytes go back into V8's count) and its place in the budget freed, so
 *     retained memory is always counted and drives V8's full collections as before.
 * When a hidden slab dies, V8 takes its bytes out of the count a second time. Putting them back
 * at once (in the finaliser) is what the count needs to stay exact, but V8 remembers the lowest
 * value since the last full collection and counts every rise above it as new external memory:
 * the dip and the rise after it made each dead hidden slab look like 2 MiB just allocated, and
 * a mark-compact started every few slabs (9-20 per GiB received). So the bytes of dead hidden
 * slabs are owed instead, and given back in one sum once `owe_max` bytes are owed (or when the
 * pool is closed and empty): V8's count is then below the truth by at most owe_max, an offset
 * (the memory itself is free) that moves only V8's absolute hard limit, and each sum given back
 * starts about one collection. Larger sums are cheaper (same section: 256 MiB, 4 per GiB;
 * 1 GiB, 1-2).
 * Nothing here changes when a slab is reused: only the garbage collector gives slabs back, so
 * frames JavaScript holds never see their bytes change. (The owner may read a new batch over
 * the last batch of the slab it is filling, when JavaScript vouches that no frame of that batch
 * is looked at again: tap-read.c BATCH_RECYCLE. That is the same slab and ArrayBuffer, so nothing
 * here or in V8's count changes.)
 * Plain C, single-threaded (everything runs on the Node.js main thread).
 */
#ifndef RX_SLAB_H
#define RX_SLAB_H

#include <stddef.h>
#include <stdint.h>

typedef struct rx_slab_pool rx_slab_pool_t;

typedef struct rx_slab {
  rx_slab_pool_t *pool;
  uint8_t *data;
  size_t size;
  struct rx_slab *next; /* free list */
  /* Hidden slabs, oldest first (while hidden). */
  struct rx_slab *older, *newer;
  unsigned long long serial; /* when it was taken: the pool's count of slabs taken */
  int hidden;
} rx_slab_t;

/*
 * A pool of `slab_size`-byte slabs keeping at most `keep` free ones, hiding at most `hide_max`
 * at once, none older than `hide_age` slabs, owing V8 at most `owe_max` bytes. NULL when out of
 * memory.
 */
rx_slab_pool_t *rx_slab_pool_new(size_t slab_size, int keep, int hide_max, int hide_age, int64_t owe_max);
/* A free slab, or a new one; NULL when out of memory. */
rx_slab_t *rx_slab_take(rx_slab_pool_t *pool);
/* Hides a slab just taken if the budget allows; returns whether it did. */
int rx_slab_hide(rx_slab_t *slab);
/* The oldest hidden slab if it is older than the pool's hide_age, unhidden now; else NULL. */
rx_slab_t *rx_slab_unhide_aged(rx_slab_pool_t *pool);
/*
 * The slab is no longer referenced: back to the free list, or freed. Returns the bytes to put
 * back into V8's external memory count now: 0, or everything owed once owe_max is reached or
 * the closed pool's last slab came back.
 */
int64_t rx_slab_give_back(rx_slab_t *slab);
/* Slabs taken and not given back; of them, hidden. Bytes owed to V8's count. */
int rx_slab_pool_live(const rx_slab_pool_t *pool);
int rx_slab_pool_hidden(const rx_slab_pool_t *pool);
int64_t rx_slab_pool_owed(const rx_slab_pool_t *pool);
/*
 * The owner lets go: free slabs are freed now, the pool itself once every slab is back. Returns
 * the bytes owed so far, to put back into V8's count now (slabs still out owe theirs later).
 */
int64_t rx_slab_pool_close(rx_slab_pool_t *pool);

#endif
