/* The wait between wake-ups in the handle's own hands (ownSleep): see tap_sleep_here. */
#include <errno.h>
#include <poll.h>
#include <string.h>

#include "host-poll.h"
#include "socket-env.h"
#include "tap-handle.h"
#include "tap-napi.h"

/* ---------- the sleep in the handle's own hands (ownSleep) ---------- */

/* Wake-ups served by one tap_sleep_here before libuv's loop gets its turn anyway. */
#define RX_OWN_SLEEP_TURNS 4096
/* Host sockets polled by their own fds at most; with more, the sockets' epoll set is polled as one
 * fd (host-poll.h rx_host_poll_set_fd) and its ready sockets fetched with one epoll_wait: poll(2)
 * costs the kernel a look at every fd it is given, each call, where the set's costs stay flat. */
#define RX_OWN_SLEEP_SOCKETS 8
/* With the set polled as one fd, the sockets served last polled by their own fds beside it
 * (host-poll.h rx_host_poll_hot): a wake-up by one of them needs no epoll_wait of the set. */
#define RX_OWN_SLEEP_HOT RX_HOST_HOT
/* Most turns a hot socket's wake-up may leave the set unfetched while the set's fd is readable
 * beside it: how long another ready socket may wait while hot ones keep the wait busy. */
#define RX_OWN_SLEEP_PATIENCE 8

/*
 * After a wake-up's frames, the wait for the next frame or a host socket's event, here with
 * poll(2) instead of in libuv's epoll_wait. What it saves is CPU per wake-up: libuv's poll
 * without a timeout before each sleep (Node runs its loop with idle-time metrics), the nested
 * epoll_wait of the host sockets' set, and a turn of the loop's other phases; an unpinned nat
 * TCP_RR exchange makes 6.2 system calls instead of 9.2 and costs about 0.95 of the CPU
 * (docs/history/session-15.md "Session 15: the nat's TCP_RR when it is free to move").
 * It was first meant to get poll(2)'s synchronous wake-ups
 * and with them the waker's CPU; measured, it does not: this kernel packs a wakee onto its
 * waker's CPU by how long the wakee runs, not by the kind of wake-up. The device's fd, the host
 * sockets (each one's own fd, from the list host-poll.c keeps as they watch and forget, when
 * there are at most RX_OWN_SLEEP_SOCKETS; else the sockets' epoll set as one fd, with the sockets
 * served last by their own fds beside it) and libuv's
 * backend fd (uv_backend_fd, public) are polled until libuv's next timer (uv_backend_timeout
 * after uv_update_time, public). A frame or a socket's event is served here and the wait
 * repeats; anything of libuv's (its backend fd readable with none of ours, a timer due, an
 * idle handle or a pending callback: uv_backend_timeout 0), a write queue, or ownSleep(false)
 * ends it, and libuv's loop runs as usual. While the handle's busy-poll window is open
 * (busyPollUs: tap-poll.c, opened after each batch and here after each socket event served)
 * the poll does not block. Only from the poll's callback, with no JavaScript on the stack: each
 * delivery runs its own callback scope (its microtasks and nextTicks) as from the loop. Not made
 * by libuv, the wait counts as busy time in performance.eventLoopUtilization().
 */
void tap_sleep_here(rx_tap_t *t) {
  rx_socket_env_t *e = rx_socket_env(t->env);
  struct pollfd fds[2 + RX_OWN_SLEEP_SOCKETS];
  uint64_t keys[RX_OWN_SLEEP_SOCKETS];
  int backend = uv_backend_fd(t->loop);
  /* Turns in a row the set's fd was readable beside a hot socket's and not fetched. */
  unsigned set_waited = 0;
  if (t->own_set_patience == 0) t->own_set_patience = 1;
  for (unsigned turn = 0; turn < RX_OWN_SLEEP_TURNS; turn++) {
    if (t->closed || !t->reading || !t->own_sleep || t->queue.count > 0 || t->exchange_scope_open) return;
    /* The host sockets: copied from the kept list (a socket's callback may change it), or the set. */
    const struct pollfd *list = NULL;
    const uint64_t *list_keys = NULL;
    int watched = e != NULL ? rx_host_poll_list(e, &list, &list_keys) : -1;
    int nhost = 0, whole_set = 0;
    if (watched > RX_OWN_SLEEP_SOCKETS) {
      fds[2] = (struct pollfd){ .fd = rx_host_poll_set_fd(e), .events = POLLIN };
      nhost = 1 + rx_host_poll_hot(e, fds + 3, keys + 1, RX_OWN_SLEEP_HOT);
      whole_set = 1;
    } else if (watched > 0) {
      memcpy(fds + 2, list, (size_t)watched * sizeof *list);
      memcpy(keys, list_keys, (size_t)watched * sizeof *keys);
      nhost = watched;
    }
    uv_update_time(t->loop);
    int timeout = uv_backend_timeout(t->loop);
    if (timeout == 0) {
      t->stats.own_sleep_exits++;
      return;
    }
    fds[0].fd = t->fd;
    fds[0].events = POLLIN;
    fds[0].revents = 0;
    fds[1].fd = backend;
    fds[1].events = POLLIN;
    fds[1].revents = 0;
    int n = 0;
    if (t->busy_poll_ns != 0 && uv_hrtime() < t->busy_until) {
      /* The busy poll (opt-in): the peer's next frame or answer is often a few tens of
       * microseconds away, less than a sleep and a wake-up on another CPU cost. */
      do n = poll(fds, (nfds_t)(2 + nhost), 0);
      while ((n == 0 || (n < 0 && errno == EINTR)) && uv_hrtime() < t->busy_until);
      if (n > 0) t->stats.own_busy_hits++;
    }
    if (n <= 0) {
      do n = poll(fds, (nfds_t)(2 + nhost), timeout);
      while (n < 0 && errno == EINTR);
    }
    if (n <= 0) { /* libuv's timer is due (or the wait failed: libuv's poll as usual) */
      t->stats.own_sleep_exits++;
      return;
    }
    int hosts = 0;
    for (int i = 0; i < nhost; i++) hosts |= fds[2 + i].revents != 0;
    if (fds[0].revents == 0 && !hosts) { /* libuv's own */
      t->stats.own_sleep_exits++;
      return;
    }
    t->stats.own_sleeps++;
    if (whole_set && hosts) {
      int set_ready = fds[2].revents != 0, hot = 0;
      for (int i = 1; i < nhost; i++) hot |= fds[2 + i].revents != 0;
      /* A hot socket ready makes the set's fd readable too (the same socket is ready in it), so
       * the set is fetched when no hot socket is ready, or when its fd stayed readable beside
       * one for own_set_patience turns: poll(2) of an epoll fd reports it only while a socket
       * of the set really is ready (the kernel re-checks its ready list), so either a hot one is
       * ready again or another socket waits, for that many turns at most. A fetch that finds
       * only hot sockets doubles the patience (up to RX_OWN_SLEEP_PATIENCE); one that finds
       * another socket brings it back to one turn. */
      if (set_ready && (!hot || set_waited >= t->own_set_patience)) {
        t->stats.own_set_wakes++;
        set_waited = 0;
        int others = rx_host_poll_dispatch(e); /* every ready socket of the set (a bounded number) */
        if (others > 0) t->own_set_patience = 1;
        else if (hot && t->own_set_patience < RX_OWN_SLEEP_PATIENCE) t->own_set_patience *= 2;
      } else {
        t->stats.own_hot_wakes++;
        set_waited = set_ready ? set_waited + 1 : 0;
        for (int i = 1; i < nhost && !t->closed; i++)
          if (fds[2 + i].revents != 0) rx_host_poll_ready(e, keys[i], fds[2 + i].revents);
      }
    } else {
      if (whole_set) set_waited = 0;
      for (int i = 0; i < nhost && !t->closed; i++)
        if (fds[2 + i].revents != 0) rx_host_poll_ready(e, keys[i], fds[2 + i].revents);
    }
    if (t->closed) return;
    if (hosts && t->busy_poll_ns != 0) tap_arm_busy_poll(t); /* the window after a socket's event served */
    if (fds[0].revents & (POLLERR | POLLHUP | POLLNVAL)) return; /* on_poll reports it from libuv's poll */
    if ((fds[0].revents & POLLIN) && t->reading) tap_read_batch(t);
  }
  t->stats.own_sleep_exits++;
}
