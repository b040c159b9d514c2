/*
 * Several frames to one fd in one system call, through io_uring (raw system calls and the
 * rings mapped by hand: no liburing, which a fresh machine does not have).
 *
 * Why: a TAP device takes one frame per write(), and on a machine where a system call is dear
 * (a PVM guest: ~1 us) and the reader of our frames shares the CPU, every write() both pays an
 * entry and lets the woken reader preempt us on the way out: one context switch per frame. N
 * IORING_OP_WRITEV entries issued by one io_uring_enter pay one entry, and the reader runs once
 * they are all written (tun writes complete inside the enter: the fd is non-blocking and
 * always pollable for writing), so it reads N frames per wake-up.
 *
 * Order: the entries are issued in ring order, each completing before the next starts, so the
 * frames reach the wire in the order given. A frame that fails leaves the later ones issued
 * (no IOSQE_IO_LINK: a link costs a task_work round per frame); rx_uring_writev says where.
 * No N-API here.
 */
#ifndef RX_TAP_URING_H
#define RX_TAP_URING_H

#include <stdint.h>
#include <sys/uio.h>

/* Most frames one io_uring_enter carries; a larger batch takes several. */
#define RX_URING_ENTRIES 64

typedef struct {
  int ring;                 /* the io_uring fd, -1: none */
  int target;               /* the fd written to */
  void *sq_map, *cq_map;    /* the rings (the same mapping with IORING_FEAT_SINGLE_MMAP) */
  size_t sq_len, cq_len;
  void *sqes;               /* struct io_uring_sqe[entries] */
  size_t sqes_len;
  unsigned entries;
  unsigned rw_flags;        /* RWF_NOWAIT when the fd takes it (a full device answers EAGAIN) */
  unsigned *sq_tail, *sq_mask, *sq_array;
  unsigned *cq_head, *cq_tail, *cq_mask;
  void *cqes;               /* struct io_uring_cqe[] */
} rx_uring_t;

/* One frame: `n` pieces gathered by one writev. */
typedef struct {
  const struct iovec *iov;
  int n;
} rx_uring_frame_t;

/*
 * Sets up a ring for writes to `fd`. Returns 0, or -errno (ENOSYS or EPERM where io_uring is
 * disabled or filtered, as in containers); `u->ring` is then -1 and nothing is held.
 */
int rx_uring_open(rx_uring_t *u, int fd);

/* Gives the ring back; idempotent. */
void rx_uring_close(rx_uring_t *u);

/* A frame io_uring did not write (its result never came): the caller writes it plainly. */
#define RX_URING_NOT_DONE INT32_MIN

/*
 * Writes `count` (1..RX_URING_ENTRIES) frames in order with one io_uring_enter; res[i] is then
 * frame i's write() result: bytes written, -errno, or RX_URING_NOT_DONE. The pieces must stay
 * valid until this returns (every entry taken has completed by then). Returns 0, or -errno
 * when the ring failed (the caller should give it up: entries it never took may still sit in
 * it); res[] says which frames were written either way.
 */
int rx_uring_writev(rx_uring_t *u, const rx_uring_frame_t *frames, unsigned count, int32_t *res);

#endif
