/* The device's uv_poll (readable: a batch; writable: the write queue) and the busy-poll window. */
#include <errno.h>
#include <unistd.h>

#include "tap-handle.h"
#include "tap-napi.h"

/* ---------- the poll ---------- */

static void on_poll(uv_poll_t *h, int status, int events);

void tap_update_poll(rx_tap_t *t) {
  if (t->closed) return;
  int events = (t->reading ? UV_READABLE : 0) | (t->queue.count > 0 && !t->hold_writes ? UV_WRITABLE : 0);
  if (!t->poll_open) {
    if (events == 0) return;
    if (uv_poll_init(t->loop, &t->poll, t->fd) != 0) return;
    t->poll.data = t;
    t->poll_open = 1;
    if (t->unrefd) uv_unref((uv_handle_t *)&t->poll);
  }
  if (events == 0) uv_poll_stop(&t->poll);
  else uv_poll_start(&t->poll, events, on_poll);
}

/* ---------- busy polling ---------- */

static void on_idle(uv_idle_t *h) {
  rx_tap_t *t = h->data;
  /* Nothing to do here: an active idle handle makes the loop's poll phase non-blocking. */
  if (t->closed || !t->reading || uv_hrtime() >= t->busy_until) uv_idle_stop(h);
}

/* Opens (or extends) the busy-poll window after a batch or an event served. */
void tap_arm_busy_poll(rx_tap_t *t) {
  t->busy_until = uv_hrtime() + t->busy_poll_ns;
  /* The own wait polls without blocking until busy_until by itself; an active idle handle would
   * end it at once (uv_backend_timeout 0 is libuv's work to do). */
  if (t->own_sleep) return;
  if (!t->idle_open) {
    if (uv_idle_init(t->loop, &t->idle) != 0) return;
    t->idle.data = t;
    t->idle_open = 1;
    uv_unref((uv_handle_t *)&t->idle);
  }
  if (!uv_is_active((uv_handle_t *)&t->idle)) uv_idle_start(&t->idle, on_idle);
}

static void on_poll(uv_poll_t *h, int status, int events) {
  rx_tap_t *t = h->data;
  if (t->closed) return;
  if (status < 0) {
    /* libuv turns EPOLLERR into UV_EBADF; a read tells the real cause (EBADFD: device deleted).
     * The tun driver raises EPOLLERR only once its device is gone, so a read that still finds a
     * frame or nothing (the deletion racing with the queue's purge) means the same: ENODEV. */
    uint8_t probe[64];
    ssize_t r = read(t->fd, probe, sizeof probe);
    if (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK) tap_fail_device(t, errno, "read", "reading a frame");
    else if (status == UV_EBADF) tap_fail_device(t, EBADFD, "poll", "watching the TAP fd");
    else tap_fail_device(t, -status, "poll", "watching the TAP fd");
    return;
  }
  if (events & UV_WRITABLE) tap_flush_queue(t);
  if (!t->closed && t->reading && (events & UV_READABLE)) {
    tap_read_batch(t);
    if (t->own_sleep) tap_sleep_here(t);
  }
}
