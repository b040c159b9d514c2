/* The TAP handle's writing: one frame, the bounded queue behind EAGAIN, several frames per io_uring call. */
#include <errno.h>
#include <unistd.h>

#include "tap-handle.h"
#include "tap-napi.h"

int tap_is_fatal(int err) {
  /* EBADFD: the device was deleted under us; the others mean the fd itself is unusable. */
  return err == EBADFD || err == EBADF || err == ENODEV || err == ENXIO;
}

int tap_is_transient(int err) {
  return err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS || err == ENOMEM;
}

static const uint8_t zero_vnet_hdr[RX_VNET_HDR_LEN];

void tap_flush_queue(rx_tap_t *t) {
  while (!t->closed && !t->hold_writes && t->queue.count > 0) {
    rx_frame_t *f = rx_wq_front(&t->queue);
    ssize_t r;
    do r = write(t->fd, f->data, f->len);
    while (r < 0 && errno == EINTR);
    if (r < 0 && tap_is_transient(errno)) break;
    if (r < 0 && tap_is_fatal(errno)) {
      tap_fail_device(t, errno, "write", "writing a queued frame");
      return;
    }
    if (r < 0) t->stats.tx_errors++;
    else {
      t->stats.tx_frames++;
      t->stats.tx_bytes += (double)f->len;
    }
    rx_wq_pop(&t->queue);
  }
  tap_update_poll(t);
}

/* ---------- writing ---------- */

/* A frame the device cannot take now: a copy waits in the queue (or is dropped beyond its bound). */
static int queue_frame(rx_tap_t *t, const struct iovec *iov, int n) {
  if (rx_wq_push_iov(&t->queue, iov, n) != 0) {
    t->stats.tx_dropped++;
    return RX_WRITE_DROPPED;
  }
  t->stats.tx_queued_total++;
  if (t->queue.count == 1) tap_update_poll(t);
  return RX_WRITE_QUEUED;
}

/* A write that failed for good: counted, and -errno for the caller. */
static int write_failed(rx_tap_t *t, int err) {
  t->stats.tx_errors++;
  return -(err == EBADFD ? ENODEV : err); /* EBADFD: the device was deleted */
}

/* Writes one frame gathered from `n` pieces (one writev: the TAP device takes a frame per call). */
int tap_write_iov(rx_tap_t *t, const struct iovec *iov, int n) {
  size_t len = 0;
  for (int i = 0; i < n; i++) len += iov[i].iov_len;
  if (t->vnet) len -= RX_VNET_HDR_LEN; /* count frame bytes only */
  if (t->queue.count == 0 && !t->hold_writes) {
    ssize_t r;
    do r = n == 1 ? write(t->fd, iov[0].iov_base, iov[0].iov_len) : writev(t->fd, iov, n);
    while (r < 0 && errno == EINTR);
    if (r >= 0) {
      t->stats.tx_frames++;
      t->stats.tx_bytes += (double)len;
      return RX_WRITE_SENT;
    }
    if (!tap_is_transient(errno)) return write_failed(t, errno);
  }
  return queue_frame(t, iov, n);
}

/* A plain Ethernet frame; with IFF_VNET_HDR an all-zero header (no offload) goes in front. */
int tap_write_one(rx_tap_t *t, const uint8_t *data, size_t len) {
  struct iovec iov[2];
  int n = 0;
  if (t->vnet) iov[n++] = (struct iovec){ (void *)zero_vnet_hdr, RX_VNET_HDR_LEN };
  iov[n++] = (struct iovec){ (void *)data, len };
  return tap_write_iov(t, iov, n);
}

/* ---------- several frames per system call (tap-uring.h) ---------- */

/* Room in the chunk for a frame of `parts` pieces, behind an all-zero virtio_net_hdr when
 * `bare` (as tap_write_one puts one in front of a plain frame with vnetHdr). Writes the chunk first
 * when it is full (false: the batch stopped there). */

/* Takes the frame whose pieces tap_chunk_room's iov now holds. */
void tap_chunk_commit(rx_tap_t *t, uint32_t parts, int bare) {
  tx_chunk_t *c = &t->chunk;
  struct iovec *iov = c->iov + c->used;
  if (bare) iov[0] = (struct iovec){ (void *)zero_vnet_hdr, RX_VNET_HDR_LEN };
  int n = (int)parts + bare;
  size_t len = 0;
  for (int i = 0; i < n; i++) len += iov[i].iov_len;
  if (t->vnet) len -= RX_VNET_HDR_LEN;
  c->frames[c->count] = (rx_uring_frame_t){ iov, n };
  c->lens[c->count] = len;
  c->count++;
  c->used += (unsigned)n;
}

bool tap_chunk_room(rx_tap_t *t, uint32_t parts, int bare, int32_t *accepted, struct iovec **iov) {
  tx_chunk_t *c = &t->chunk;
  if (c->count == RX_URING_ENTRIES || c->used + parts + (unsigned)bare > RX_CHUNK_IOV) {
    if (!tap_write_chunk(t, accepted)) return false;
  }
  *iov = c->iov + c->used + bare;
  return true;
}

/*
 * Writes the gathered frames, in order: with io_uring in one system call when there are
 * several, io_uring is on and nothing waits in the queue (a queued frame goes first, and a
 * held device queues everything), else one write each as before. Each frame's result is
 * handled as tap_write_iov handles a write's: counted, queued on EAGAIN, an error returned.
 * Tallies them as writeBatch does; false when the batch stops at a fatal error.
 */
bool tap_write_chunk(rx_tap_t *t, int32_t *accepted) {
  tx_chunk_t *c = &t->chunk;
  unsigned count = c->count;
  c->count = c->used = 0;
  bool go_on = true;
  if (count < 2 || t->uring.ring < 0 || t->queue.count != 0 || t->hold_writes) {
    for (unsigned i = 0; i < count && go_on; i++) go_on = tap_tally_write(tap_write_iov(t, c->frames[i].iov, c->frames[i].n), accepted);
    return go_on;
  }
  /* A failing ring is given up (plain writes from now on); res says what it wrote. */
  if (rx_uring_writev(&t->uring, c->frames, count, c->res) != 0) rx_uring_close(&t->uring);
  t->stats.tx_submits++;
  int waited = 0;
  /* Every result is counted, even past a fatal one (those frames were written or tried). */
  for (unsigned i = 0; i < count; i++) {
    int32_t r = c->res[i];
    int rc;
    if (r == RX_URING_NOT_DONE) {
      if (!go_on) break; /* never tried: the batch stopped before it */
      rc = tap_write_iov(t, c->frames[i].iov, c->frames[i].n);
    } else if (r >= 0) {
      t->stats.tx_frames++;
      t->stats.tx_bytes += (double)c->lens[i];
      t->stats.tx_uring_frames++;
      if (waited) t->stats.tx_reordered++; /* no TCP harm; the device's send buffer was full */
      rc = RX_WRITE_SENT;
    } else if (tap_is_transient(-r)) {
      rc = queue_frame(t, c->frames[i].iov, c->frames[i].n);
      waited = 1;
    } else {
      rc = write_failed(t, -r);
    }
    if (go_on) go_on = tap_tally_write(rc, accepted);
  }
  return go_on;
}

/* Counts one write's outcome into *accepted; false when the batch stops there (a fatal error,
   which *accepted then holds as -errno). */
bool tap_tally_write(int rc, int32_t *accepted) {
  if (rc == RX_WRITE_SENT || rc == RX_WRITE_QUEUED) (*accepted)++;
  else if (rc < 0 && tap_is_fatal(-rc)) {
    *accepted = rc;
    return false;
  }
  return true;
}

