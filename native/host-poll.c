/* The host sockets' epoll set, one per environment: see host-poll.h. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "host-poll.h"
#include "socket-env.h"

static uint64_t event_key(const rx_socket_env_t *e, uint32_t slot) {
  return ((uint64_t)e->slots[slot - 1].gen << 32) | slot;
}

/* The socket `key` was just served: first among the hot ones (the others move down). */
static void note_hot(rx_socket_env_t *e, uint64_t key) {
  if (e->hot[0] == key) return;
  int i = 1;
  while (i < RX_HOST_HOT - 1 && e->hot[i] != key) i++;
  for (; i > 0; i--) e->hot[i] = e->hot[i - 1];
  e->hot[0] = key;
}

/* One ready socket, named by its event key (slot and generation), to its callback; `got` in
   epoll's bits (poll's POLLIN, POLLOUT, POLLERR, POLLHUP have the same values). */
static void dispatch_one(rx_socket_env_t *e, uint64_t key, uint32_t got) {
  uint32_t slot = (uint32_t)key;
  uint32_t gen = (uint32_t)(key >> 32);
  /* The table may have grown (a callback opened a socket): looked up afresh each time. */
  if (slot == 0 || slot > e->nslots || e->slots[slot - 1].gen != gen) return;
  rx_host_watch_t *w = e->slots[slot - 1].w;
  if (w == NULL) return;
  if (w->events == 0) {
    /* It stopped watching (level-triggered: it would be reported again at every wake-up). */
    if (w->in_set) epoll_ctl(e->epfd, EPOLL_CTL_DEL, w->fd, NULL);
    w->in_set = 0;
    return;
  }
  if (got & EPOLLERR) {
    w->ready(w, UV_EBADF, 0);
    return;
  }
  int ev = 0;
  if (got & (EPOLLIN | EPOLLHUP)) ev |= w->events & UV_READABLE;
  if (got & (EPOLLOUT | EPOLLHUP)) ev |= w->events & UV_WRITABLE;
  if (ev == 0) return;
  note_hot(e, key);
  w->ready(w, 0, ev);
}

int rx_host_poll_dispatch(rx_socket_env_t *e) {
  if (e->poll_open != 1) return 0;
  struct epoll_event ready[RX_HOST_POLL_BATCH];
  uint64_t hot[RX_HOST_HOT];
  memcpy(hot, e->hot, sizeof hot);
  int n, others = 0;
  do n = epoll_wait(e->epfd, ready, RX_HOST_POLL_BATCH, 0);
  while (n < 0 && errno == EINTR);
  for (int i = 0; i < n && e->poll_open == 1; i++) {
    int known = 0;
    for (int j = 0; j < RX_HOST_HOT; j++) known |= ready[i].data.u64 == hot[j];
    others += !known;
    dispatch_one(e, ready[i].data.u64, ready[i].events);
  }
  return others;
}

/* One wake-up: every ready socket of the set (a bounded number), each to its callback. */
static void on_epoll(uv_poll_t *h, int status, int events) {
  (void)status;
  (void)events;
  (void)rx_host_poll_dispatch(h->data);
}

int rx_host_poll_list(rx_socket_env_t *e, const struct pollfd **fds, const uint64_t **keys) {
  if (e->poll_open != 1) return -1;
  *fds = e->pfds;
  *keys = e->pkeys;
  return (int)e->npfds;
}

int rx_host_poll_set_fd(rx_socket_env_t *e) {
  return e->poll_open == 1 ? e->epfd : -1;
}

int rx_host_poll_hot(rx_socket_env_t *e, struct pollfd *fds, uint64_t *keys, int max) {
  if (e->poll_open != 1) return 0;
  int n = 0;
  for (int i = 0; i < RX_HOST_HOT && n < max && e->hot[i] != 0; i++) {
    uint64_t key = e->hot[i];
    uint32_t slot = (uint32_t)key;
    /* Closed since (its slot let go or taken by another socket), or watching nothing: skipped. */
    if (slot == 0 || slot > e->nslots || e->slots[slot - 1].gen != (uint32_t)(key >> 32)) continue;
    rx_host_watch_t *w = e->slots[slot - 1].w;
    if (w == NULL || w->events == 0) continue;
    fds[n] = (struct pollfd){ .fd = w->fd, .events = (short)(((w->events & UV_READABLE) ? POLLIN : 0) | ((w->events & UV_WRITABLE) ? POLLOUT : 0)) };
    keys[n++] = key;
  }
  return n;
}

/* Puts a socket that watches `events` into the poll list, or changes what it asks there. */
static int list_put(rx_socket_env_t *e, rx_host_watch_t *w, int events) {
  if (w->pidx == 0) {
    if (e->npfds == e->pcap) {
      uint32_t n = e->pcap == 0 ? 16 : e->pcap * 2;
      struct pollfd *fds = realloc(e->pfds, n * sizeof *fds);
      if (fds == NULL) return -ENOMEM;
      e->pfds = fds;
      uint64_t *keys = realloc(e->pkeys, n * sizeof *keys);
      if (keys == NULL) return -ENOMEM;
      e->pkeys = keys;
      e->pcap = n;
    }
    w->pidx = ++e->npfds;
    e->pfds[w->pidx - 1].fd = w->fd;
    e->pfds[w->pidx - 1].revents = 0;
    e->pkeys[w->pidx - 1] = event_key(e, w->slot);
  }
  e->pfds[w->pidx - 1].events = (short)(((events & UV_READABLE) ? POLLIN : 0) | ((events & UV_WRITABLE) ? POLLOUT : 0));
  return 0;
}

/* Takes a socket out of the poll list: the last entry moves into its place. */
static void list_drop(rx_socket_env_t *e, rx_host_watch_t *w) {
  if (w->pidx == 0 || w->pidx > e->npfds) { /* the list was let go with the set (on_set_closed) */
    w->pidx = 0;
    return;
  }
  uint32_t at = w->pidx - 1, last = e->npfds - 1;
  w->pidx = 0;
  e->npfds--;
  if (at == last) return;
  e->pfds[at] = e->pfds[last];
  e->pkeys[at] = e->pkeys[last];
  rx_host_watch_t *moved = e->slots[(uint32_t)e->pkeys[at] - 1].w;
  if (moved != NULL) moved->pidx = at + 1;
}

void rx_host_poll_ready(rx_socket_env_t *e, uint64_t key, short revents) {
  if (e->poll_open != 1) return;
  e->direct_dispatches++;
  dispatch_one(e, key, (uint32_t)(uint16_t)revents);
}

static int open_set(rx_socket_env_t *e) {
  if (e->poll_open == 1) return 0;
  if (e->poll_open != 0 || e->tearing_down) return -EBADF;
  uv_loop_t *loop = NULL;
  if (napi_get_uv_event_loop(e->env, &loop) != napi_ok) return -EINVAL;
  int fd = epoll_create1(EPOLL_CLOEXEC);
  if (fd < 0) return -errno;
  int r = uv_poll_init(loop, &e->epoll_poll, fd);
  if (r != 0) {
    close(fd);
    return r;
  }
  e->epfd = fd;
  e->epoll_poll.data = e;
  e->poll_open = 1;
  uv_poll_start(&e->epoll_poll, UV_READABLE, on_epoll);
  /* Nothing watched yet: the set keeps the loop alive only while a socket does. */
  uv_unref((uv_handle_t *)&e->epoll_poll);
  return 0;
}

static int take_slot(rx_socket_env_t *e, rx_host_watch_t *w) {
  if (e->free_head == 0) {
    uint32_t n = e->nslots == 0 ? 64 : e->nslots * 2;
    rx_host_slot_t *grown = realloc(e->slots, n * sizeof *grown);
    if (grown == NULL) return -ENOMEM;
    for (uint32_t i = e->nslots; i < n; i++) {
      grown[i].w = NULL;
      grown[i].gen = 0;
      grown[i].next_free = i + 1 < n ? i + 2 : 0;
    }
    e->slots = grown;
    e->free_head = e->nslots + 1;
    e->nslots = n;
  }
  uint32_t slot = e->free_head;
  rx_host_slot_t *s = &e->slots[slot - 1];
  e->free_head = s->next_free;
  s->w = w;
  s->next_free = 0;
  w->slot = slot;
  return 0;
}

/* Counts a socket that keeps the loop alive in or out; the set's poll is ref'd while any does. */
static void count_alive(rx_socket_env_t *e, int delta) {
  if (delta > 0 && e->alive++ == 0 && e->poll_open == 1) uv_ref((uv_handle_t *)&e->epoll_poll);
  if (delta < 0 && --e->alive == 0 && e->poll_open == 1) uv_unref((uv_handle_t *)&e->epoll_poll);
}

static uint32_t epoll_events(int events) {
  return ((events & UV_READABLE) ? EPOLLIN : 0) | ((events & UV_WRITABLE) ? EPOLLOUT : 0);
}

int rx_host_poll_watch(rx_socket_env_t *e, rx_host_watch_t *w, int events) {
  if (events == w->events) return 0;
  if (events == 0) {
    /* Left in the set: usually closed before an event for it comes (which takes it out). */
    w->events = 0;
    e->watching--;
    list_drop(e, w);
    if (!w->unrefd) count_alive(e, -1);
    return 0;
  }
  int r = open_set(e);
  if (r != 0) return r;
  if (w->slot == 0 && (r = take_slot(e, w)) != 0) return r;
  if ((r = list_put(e, w, events)) != 0) return r;
  struct epoll_event ev = { .events = epoll_events(events), .data.u64 = event_key(e, w->slot) };
  if (epoll_ctl(e->epfd, w->in_set ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, w->fd, &ev) != 0) {
    r = -errno;
    if (w->events == 0) list_drop(e, w);
    else list_put(e, w, w->events); /* what it watched before, as the set still has it */
    return r;
  }
  w->in_set = 1;
  if (w->events == 0 && !w->unrefd) count_alive(e, 1);
  if (w->events == 0) e->watching++;
  w->events = events;
  return 0;
}

void rx_host_poll_forget(rx_socket_env_t *e, rx_host_watch_t *w) {
  list_drop(e, w);
  if (w->events != 0 && !w->unrefd) count_alive(e, -1);
  if (w->events != 0) e->watching--;
  w->events = 0;
  w->in_set = 0;
  if (w->slot == 0) return;
  rx_host_slot_t *s = &e->slots[w->slot - 1];
  s->w = NULL;
  s->gen++; /* an event of this socket already fetched is skipped */
  s->next_free = e->free_head;
  e->free_head = w->slot;
  w->slot = 0;
}

void rx_host_poll_ref(rx_socket_env_t *e, rx_host_watch_t *w, int ref) {
  if (ref == !w->unrefd) return;
  w->unrefd = !ref;
  if (w->events != 0) count_alive(e, ref ? 1 : -1);
}

static void on_set_closed(uv_handle_t *h) {
  rx_socket_env_t *e = h->data;
  close(e->epfd);
  e->epfd = -1;
  e->poll_open = 0;
  free(e->slots);
  e->slots = NULL;
  free(e->pfds);
  free(e->pkeys);
  e->pfds = NULL;
  e->pkeys = NULL;
  e->npfds = e->pcap = 0;
  for (int i = 0; i < RX_HOST_HOT; i++) e->hot[i] = 0;
  e->nslots = e->free_head = 0;
  e->watching = 0;
  if (e->poll_closed != NULL) e->poll_closed(e);
}

void rx_host_poll_close(rx_socket_env_t *e, void (*done)(rx_socket_env_t *)) {
  if (e->poll_open != 1) {
    if (e->poll_open == 0) done(e);
    return;
  }
  e->poll_open = 2;
  e->poll_closed = done;
  uv_close((uv_handle_t *)&e->epoll_poll, on_set_closed);
}
