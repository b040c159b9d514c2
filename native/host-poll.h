/*
 * The host sockets' epoll set: one per environment (socket-env.h), watched by one uv_poll on its
 * fd, instead of a uv_poll per socket. Why: libuv's uv_poll costs system calls per socket that a
 * relayed connection pays each time (uv_poll_init: an ioctl to set non-blocking mode, which the
 * socket already is, and an epoll add and delete to probe the fd; each uv_poll_start: a delete
 * and an add; the close: a delete), about 6 epoll_ctl and an ioctl per nat TCP connection. Here a
 * socket is added once when it first watches something, changed (EPOLL_CTL_MOD) when what it
 * watches changes, and leaves the set by its close(2): 1 epoll_ctl per connection. A socket
 * that stops watching (a TCP socket after the peer's FIN, about to be closed) stays in the set
 * until an event for it comes, which takes it out then (EPOLL_CTL_DEL): most are closed first. One
 * wake-up of the loop dispatches every ready socket (up to RX_HOST_POLL_BATCH) in one callback.
 *
 * Level-triggered, like uv_poll: a socket left readable is reported again at the next wake-up
 * (the datagram socket's one-read-per-wake-up rule relies on it).
 *
 * An event names its socket by a slot in the environment's table and the slot's generation, not
 * by pointer: a socket closed by an earlier callback of the same batch (or closed and its slot
 * taken by a new socket) has its stale event skipped, and its memory may be freed at any time.
 */
#ifndef RX_HOST_POLL_H
#define RX_HOST_POLL_H

#include <stdint.h>

struct rx_socket_env;
struct pollfd;

/* Ready sockets dispatched per wake-up at most (the rest come at the next, level-triggered). */
#define RX_HOST_POLL_BATCH 64

typedef struct rx_host_watch rx_host_watch_t;

/*
 * A socket's readiness: `events` UV_READABLE / UV_WRITABLE among those it watches (a hang-up
 * reported as both, as libuv does), or `status` < 0 (UV_EBADF, as uv_poll says it) when the
 * socket has a pending error (EPOLLERR), with `events` 0.
 */
typedef void (*rx_host_ready_cb)(rx_host_watch_t *w, int status, int events);

struct rx_host_watch {
  rx_host_ready_cb ready;
  int fd;
  int events;    /* UV_READABLE | UV_WRITABLE watched now; 0: none */
  int in_set;    /* in the epoll set (possibly watching nothing: taken out by its next event) */
  int unrefd;    /* watching does not keep the event loop alive (unref()) */
  uint32_t slot; /* the environment's table: index + 1; 0: none */
  uint32_t pidx; /* the environment's poll list (rx_host_poll_list): index + 1; 0: not in it */
};

/*
 * Watches `events` (UV_READABLE | UV_WRITABLE; 0: none, its callback is not called) of w->fd:
 * 0, or -errno (the epoll set could not be made, the fd refused). A system call only when it
 * watches something else than before.
 */
int rx_host_poll_watch(struct rx_socket_env *e, rx_host_watch_t *w, int events);
/* Before the socket's fd is closed: its slot is let go (the close itself takes it out of the set). */
void rx_host_poll_forget(struct rx_socket_env *e, rx_host_watch_t *w);
/* ref() / unref(): whether watching keeps the event loop alive. */
void rx_host_poll_ref(struct rx_socket_env *e, rx_host_watch_t *w, int ref);
/* What the set's poll does when it is readable: every ready socket (a bounded number) to its
   callback. Returns how many of them were not among the hot ones (rx_host_poll_hot) before. */
int rx_host_poll_dispatch(struct rx_socket_env *e);
/*
 * For a poll(2) of the sockets' own fds instead of the set (tap-own-wait.c, which waits for the
 * device, the sockets and libuv's backend in one call and dispatches a socket's event without
 * the set's epoll_wait): every socket that watches something, as `fds` (events asked; revents
 * 0) and their `keys`, and how many; -1 when there is no set. The list is kept up to date by
 * watch and forget (a socket is added, changed or removed there, the last one moved into a
 * removed one's place), not made per call: its pointers are valid until the next watch or
 * forget, so a caller copies what it polls before dispatching.
 */
int rx_host_poll_list(struct rx_socket_env *e, const struct pollfd **fds, const uint64_t **keys);
/* The set's own fd (readable while a watched socket is ready), for a poll(2) of the set as one
   fd when there are too many sockets to poll one by one; -1 when there is no set. */
int rx_host_poll_set_fd(struct rx_socket_env *e);
/*
 * The sockets served last (up to `max`, at most RX_HOST_HOT, newest first) that still watch
 * something, as `fds` (events asked; revents 0) and their `keys`: for a poll(2) of their own fds
 * beside the set's fd, so that a wake-up by a socket that was active a moment ago is served by
 * rx_host_poll_ready without the set's epoll_wait. The set's fd is readable then too (the same
 * socket is ready in it); the caller still fetches the set when it stays readable.
 */
int rx_host_poll_hot(struct rx_socket_env *e, struct pollfd *fds, uint64_t *keys, int max);
/* One socket poll(2) found ready (`key` from rx_host_poll_list, `revents` from poll) to its callback,
   as the set's wake-up would (a socket closed since is skipped). */
void rx_host_poll_ready(struct rx_socket_env *e, uint64_t key, short revents);
/* The environment ends: the set's uv_poll is closed; `done` is called once it is (at once when there is none). */
void rx_host_poll_close(struct rx_socket_env *e, void (*done)(struct rx_socket_env *));

#endif
