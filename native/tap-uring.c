#include <errno.h>
#include <linux/fs.h>
#include <linux/io_uring.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "tap-uring.h"

#ifndef IORING_SETUP_SUBMIT_ALL
#define IORING_SETUP_SUBMIT_ALL (1U << 7)
#endif
#ifndef IORING_SETUP_COOP_TASKRUN
#define IORING_SETUP_COOP_TASKRUN (1U << 8)
#endif
#ifndef IORING_SETUP_SINGLE_ISSUER
#define IORING_SETUP_SINGLE_ISSUER (1U << 12)
#endif
#ifndef RWF_NOWAIT
#define RWF_NOWAIT 0x00000008
#endif

/* Tries at most this many enters to submit one batch (the kernel takes them all at once unless
 * short of memory) and to wait for its completions. */
#define SUBMIT_TRIES 8

static int sys_setup(unsigned entries, struct io_uring_params *p) {
  return (int)syscall(__NR_io_uring_setup, entries, p);
}

static int sys_enter(int ring, unsigned to_submit, unsigned min_complete, unsigned flags) {
  return (int)syscall(__NR_io_uring_enter, ring, to_submit, min_complete, flags, NULL, 0);
}

static void unmap_all(rx_uring_t *u) {
  if (u->sqes != NULL) munmap(u->sqes, u->sqes_len);
  if (u->cq_map != NULL && u->cq_map != u->sq_map) munmap(u->cq_map, u->cq_len);
  if (u->sq_map != NULL) munmap(u->sq_map, u->sq_len);
  u->sqes = u->cq_map = u->sq_map = NULL;
}

void rx_uring_close(rx_uring_t *u) {
  unmap_all(u);
  if (u->ring >= 0) close(u->ring);
  u->ring = -1;
}

/* Writes the entries (no completion is reaped before it returns). */
static void fill_sqe(rx_uring_t *u, unsigned slot, const rx_uring_frame_t *f, unsigned rw_flags) {
  struct io_uring_sqe *sqe = (struct io_uring_sqe *)u->sqes + slot;
  memset(sqe, 0, sizeof *sqe);
  sqe->opcode = IORING_OP_WRITEV;
  sqe->fd = u->target;
  sqe->off = (uint64_t)-1; /* the file's position: a character device has none to keep */
  sqe->addr = (uint64_t)(uintptr_t)f->iov;
  sqe->len = (unsigned)f->n;
  sqe->rw_flags = (int)rw_flags;
  sqe->user_data = slot;
}

/* Submits `count` prepared entries and waits for as many completions; fills res by user_data. */
static int run(rx_uring_t *u, unsigned count, int32_t *res) {
  unsigned tail = *u->sq_tail;
  for (unsigned i = 0; i < count; i++) u->sq_array[(tail + i) & *u->sq_mask] = i;
  /* The kernel reads the entries after it sees the new tail. */
  atomic_store_explicit((_Atomic unsigned *)u->sq_tail, tail + count, memory_order_release);
  unsigned submitted = 0, reaped = 0;
  for (int tries = 0; reaped < count && tries < SUBMIT_TRIES; tries++) {
    int r = sys_enter(u->ring, count - submitted, count - reaped, IORING_ENTER_GETEVENTS);
    if (r < 0 && errno != EINTR && errno != EAGAIN && errno != EBUSY) return -errno;
    if (r > 0) submitted += (unsigned)r;
    unsigned head = *u->cq_head;
    unsigned ctail = atomic_load_explicit((_Atomic unsigned *)u->cq_tail, memory_order_acquire);
    for (; head != ctail; head++) {
      const struct io_uring_cqe *cqe = (const struct io_uring_cqe *)u->cqes + (head & *u->cq_mask);
      if (cqe->user_data < count) res[cqe->user_data] = cqe->res;
      reaped++;
    }
    atomic_store_explicit((_Atomic unsigned *)u->cq_head, head, memory_order_release);
  }
  /* Entries the kernel still holds would point at memory the caller is about to free. */
  return reaped == count ? 0 : -EIO;
}

/*
 * Whether the fd takes RWF_NOWAIT (the file has FMODE_NOWAIT): a writev of nothing, which the
 * tun driver refuses with EINVAL before touching a frame or a counter, while io_uring refuses
 * the flag itself with EOPNOTSUPP. With it, a full device answers EAGAIN in the completion,
 * as write() does; without it the non-blocking fd already makes io_uring answer so.
 */
static unsigned probe_nowait(rx_uring_t *u) {
  static const struct iovec none = { NULL, 0 };
  rx_uring_frame_t f = { &none, 0 };
  int32_t res = 0;
  fill_sqe(u, 0, &f, RWF_NOWAIT);
  if (run(u, 1, &res) != 0) return 0;
  return res == -EOPNOTSUPP ? 0 : RWF_NOWAIT;
}

int rx_uring_open(rx_uring_t *u, int fd) {
  memset(u, 0, sizeof *u);
  u->ring = -1;
  u->target = fd;
  struct io_uring_params p;
  /* Newest flags first (5.19: one issuer, no interrupting task work; 5.18: a failing entry
   * does not stop the others), then without them on an older kernel. */
  static const unsigned tries[] = {
    IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_COOP_TASKRUN | IORING_SETUP_SUBMIT_ALL,
    IORING_SETUP_SUBMIT_ALL,
    0,
  };
  int ring = -1;
  for (unsigned i = 0; i < sizeof tries / sizeof tries[0] && ring < 0; i++) {
    memset(&p, 0, sizeof p);
    p.flags = tries[i];
    ring = sys_setup(RX_URING_ENTRIES, &p);
    if (ring < 0 && errno != EINVAL) return -errno;
  }
  if (ring < 0) return -errno;
  u->ring = ring;
  u->entries = p.sq_entries;
  u->sq_len = p.sq_off.array + p.sq_entries * sizeof(unsigned);
  u->cq_len = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
  int single = (p.features & IORING_FEAT_SINGLE_MMAP) != 0;
  if (single && u->cq_len > u->sq_len) u->sq_len = u->cq_len;
  void *sq = mmap(NULL, u->sq_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, ring, IORING_OFF_SQ_RING);
  if (sq == MAP_FAILED) goto fail;
  u->sq_map = sq;
  if (single) u->cq_map = sq;
  else {
    void *cq = mmap(NULL, u->cq_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, ring, IORING_OFF_CQ_RING);
    if (cq == MAP_FAILED) goto fail;
    u->cq_map = cq;
  }
  u->sqes_len = p.sq_entries * sizeof(struct io_uring_sqe);
  void *sqes = mmap(NULL, u->sqes_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, ring, IORING_OFF_SQES);
  if (sqes == MAP_FAILED) goto fail;
  u->sqes = sqes;
  char *s = u->sq_map, *c = u->cq_map;
  u->sq_tail = (unsigned *)(s + p.sq_off.tail);
  u->sq_mask = (unsigned *)(s + p.sq_off.ring_mask);
  u->sq_array = (unsigned *)(s + p.sq_off.array);
  u->cq_head = (unsigned *)(c + p.cq_off.head);
  u->cq_tail = (unsigned *)(c + p.cq_off.tail);
  u->cq_mask = (unsigned *)(c + p.cq_off.ring_mask);
  u->cqes = c + p.cq_off.cqes;
  /* No registered file (IORING_REGISTER_FILES, which would save a look-up per entry): it would
   * hold the device open after close() until the ring's teardown, which the kernel finishes
   * later in a worker, so a device we created would outlive its close. */
  u->rw_flags = probe_nowait(u);
  return 0;
fail: {
  int err = errno;
  rx_uring_close(u);
  return -err;
}
}

int rx_uring_writev(rx_uring_t *u, const rx_uring_frame_t *frames, unsigned count, int32_t *res) {
  if (u->ring < 0) return -EBADF;
  if (count == 0 || count > u->entries) return -EINVAL;
  for (unsigned i = 0; i < count; i++) {
    fill_sqe(u, i, &frames[i], u->rw_flags);
    res[i] = RX_URING_NOT_DONE;
  }
  return run(u, count, res);
}
