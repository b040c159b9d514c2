#include <stdlib.h>
#include <string.h>

#include "write-queue.h"

int rx_wq_init(rx_write_queue_t *q, size_t limit) {
  q->head = 0;
  q->count = 0;
  q->limit = limit;
  q->slots = limit == 0 ? NULL : calloc(limit, sizeof(rx_frame_t));
  return limit != 0 && q->slots == NULL ? -1 : 0;
}

int rx_wq_push(rx_write_queue_t *q, const uint8_t *data, size_t len) {
  if (q->count >= q->limit) return -1;
  uint8_t *copy = malloc(len == 0 ? 1 : len);
  if (copy == NULL) return -1;
  memcpy(copy, data, len);
  rx_frame_t *slot = &q->slots[(q->head + q->count) % q->limit];
  slot->data = copy;
  slot->len = len;
  q->count++;
  return 0;
}

int rx_wq_push_iov(rx_write_queue_t *q, const struct iovec *iov, int n) {
  if (q->count >= q->limit) return -1;
  size_t len = 0;
  for (int i = 0; i < n; i++) len += iov[i].iov_len;
  uint8_t *copy = malloc(len == 0 ? 1 : len);
  if (copy == NULL) return -1;
  size_t off = 0;
  for (int i = 0; i < n; i++) {
    memcpy(copy + off, iov[i].iov_base, iov[i].iov_len);
    off += iov[i].iov_len;
  }
  rx_frame_t *slot = &q->slots[(q->head + q->count) % q->limit];
  slot->data = copy;
  slot->len = len;
  q->count++;
  return 0;
}

rx_frame_t *rx_wq_front(rx_write_queue_t *q) {
  return &q->slots[q->head];
}

void rx_wq_pop(rx_write_queue_t *q) {
  if (q->count == 0) return;
  free(q->slots[q->head].data);
  q->slots[q->head].data = NULL;
  q->head = (q->head + 1) % q->limit;
  q->count--;
}

void rx_wq_free(rx_write_queue_t *q) {
  while (q->count > 0) rx_wq_pop(q);
  free(q->slots);
  q->slots = NULL;
  q->limit = 0;
  q->head = 0;
}
