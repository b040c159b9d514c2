/*
 * A bounded FIFO of frames waiting for the TAP fd to become writable again. Frames are copied
 * in (the caller's buffer belongs to JavaScript and may be reused once write() returns).
 */
#ifndef RX_WRITE_QUEUE_H
#define RX_WRITE_QUEUE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

typedef struct {
  uint8_t *data;
  size_t len;
} rx_frame_t;

typedef struct {
  rx_frame_t *slots; /* ring of `limit` slots */
  size_t limit;
  size_t head;       /* index of the oldest frame */
  size_t count;
} rx_write_queue_t;

/* Returns 0, or -1 when the slot array cannot be allocated. */
int rx_wq_init(rx_write_queue_t *q, size_t limit);
/* Copies `len` bytes in. Returns 0, or -1 when the queue is full or memory is short. */
int rx_wq_push(rx_write_queue_t *q, const uint8_t *data, size_t len);
/* Copies the `n` pieces of one frame in, back to back. Same results as rx_wq_push. */
int rx_wq_push_iov(rx_write_queue_t *q, const struct iovec *iov, int n);
/* The oldest frame; only valid while count > 0. */
rx_frame_t *rx_wq_front(rx_write_queue_t *q);
/* Drops the oldest frame. */
void rx_wq_pop(rx_write_queue_t *q);
/* Frees every frame and the slots; the queue is empty (limit 0) afterwards. */
void rx_wq_free(rx_write_queue_t *q);

#endif
