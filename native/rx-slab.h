/*
 * Receive slabs: large blocks that frames are read into directly and that JavaScript then owns
 * as (external) ArrayBuffers, so a frame is never copied after the kernel's own copy.
 *
 * A slab is filled batch after batch; once it has no room for another frame of the largest size
 * it is retired (JavaScript's views keep it alive) and a fresh one taken. When the garbage
 * collector frees a retired slab's ArrayBuffer, the slab comes back to its pool and is reused
 * (its pages stay mapped: no page faults and zeroing for every batch, as a fresh Buffer per
 * batch costs). The pool is reference-counted, so a slab outliving its device is still freed.
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
} rx_slab_t;

/* A pool of `slab_size`-byte slabs keeping at most `keep` free ones. NULL when out of memory. */
rx_slab_pool_t *rx_slab_pool_new(size_t slab_size, int keep);
/* A free slab, or a new one; NULL when out of memory. */
rx_slab_t *rx_slab_take(rx_slab_pool_t *pool);
/* The slab is no longer referenced: back to the free list, or freed. */
void rx_slab_give_back(rx_slab_t *slab);
/* The owner lets go: free slabs are freed now, the pool itself once every slab is back. */
void rx_slab_pool_close(rx_slab_pool_t *pool);

#endif
