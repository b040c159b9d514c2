/*
 * TcpSocket: a host TCP client socket for `rx-netstack nat`, the outbound half of a relayed
 * connection. Why not node:net: per connection `net.connect` builds a Socket (a Duplex stream,
 * its state, timers, a lookup step) and per write goes through the Writable machinery; a relay
 * needs none of it, and on a connection-rate workload that was a fifth of the nat's CPU.
 *
 * Non-blocking, watched by the environment's epoll set of host sockets (host-poll.h: one uv_poll
 * for all of them, 1 to 2 epoll_ctl per connection where a uv_poll of its own cost about 6 and an
 * ioctl). connect() starts a non-blocking connect;
 * onConnect(errno) says how it ended (0: connected). Reading: one read() per readable wake-up
 * into a buffer shared by every socket of the environment (socket-env.h: the module's
 * `tcpReadBuffer`, up to 256 KiB: what a bulk transfer has queued is taken in one call);
 * onData() says the read's bytes are at the start of it, as many as the module's `tcpRead[0]`,
 * valid only during the call (JavaScript keeps one view of the buffer and hands on a subarray:
 * no typed array and no number is made here per read). onData returns how many bytes the next
 * read may take (the room its consumer has: a relay reads no more than its connection's send
 * buffer takes, so nothing read is copied a second time), 0 or false to pause reading until
 * resume(limit), true for no limit; onEnd() at the peer's FIN; onError(errno) for a failure
 * (ECONNRESET...), after which nothing more comes.
 * Writing: write() sends at once what the kernel takes and copies the rest into this socket's
 * queue, sent when the fd is writable; it returns false while the queue holds bytes, and
 * onDrain() says when it is empty again. end() sends FIN once the queue is empty; close(reset)
 * closes, with an RST when `reset` (SO_LINGER 0). (Not a function bound to the socket, as the
 * TAP handle's writers are: making one costs more per connection than it saves per write.)
 *
 * Lifetime: an open socket holds its JS object; close() (or a failure) lets go of its place in
 * the epoll set and closes the fd; the struct is freed once the object is finalized. When the
 * environment ends (a worker thread exits) with the socket open, it is closed then
 * (socket-env.h).
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <node_api.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "errno-name.h"
#include "host-poll.h"
#include "tcp-socket.h"
#include "napi-this.h"
#include "socket-env.h"

#define TCP_READ_MAX RX_TCP_READ_MAX
/* writeAndRead's read after the write: once this many in a row found nothing, the read is
 * skipped, except every ANSWER_PROBE_EVERY-th call. */
#define ANSWER_MISSES 4
#define ANSWER_PROBE_EVERY 16

enum { CB_CONNECT, CB_DATA, CB_END, CB_ERROR, CB_DRAIN, CB_COUNT };

typedef struct {
  rx_env_socket_t link; /* on the environment's list while open */
  rx_socket_env_t *shared;
  napi_env env;
  napi_ref wrapper;
  napi_ref cb[CB_COUNT];
  napi_async_context async_ctx;
  rx_host_watch_t watch; /* its place in the environment's epoll set (watch.events: what it watches now) */
  int fd;
  int connecting;
  int reading;       /* reading wanted (not paused) */
  size_t read_limit; /* most bytes the next read takes (onData's answer) */
  int eof;           /* the peer's FIN was read */
  int end_pending;   /* end() called: shutdown once the queue is empty */
  int shut;          /* SHUT_WR done */
  int closed;
  int finalized;
  int in_callback;
  int pending_err;   /* a write failed: reported from the next wake-up, not inside write() */
  unsigned answer_misses; /* writeAndRead reads in a row that found nothing */
  unsigned answer_skips;  /* writeAndRead calls since such reads were skipped */
  uint8_t *q;        /* unsent bytes */
  size_t qoff, qlen, qcap;
} tcp_socket_t;

static void on_ready(rx_host_watch_t *w, int status, int events);

static void release_js(tcp_socket_t *s) {
  for (int i = 0; i < CB_COUNT; i++) {
    if (s->cb[i] != NULL) {
      napi_delete_reference(s->env, s->cb[i]);
      s->cb[i] = NULL;
    }
  }
  if (s->async_ctx != NULL) {
    napi_async_destroy(s->env, s->async_ctx);
    s->async_ctx = NULL;
  }
  uint32_t count = 0;
  if (s->wrapper != NULL) napi_reference_unref(s->env, s->wrapper, &count);
}

static void shutdown_socket(tcp_socket_t *s, int reset) {
  if (s->closed) return;
  s->closed = 1;
  /* Its close(2) below takes the fd out of the epoll set: no epoll_ctl. */
  rx_host_poll_forget(s->shared, &s->watch);
  rx_socket_env_remove(s->shared, &s->link);
  if (s->fd >= 0) {
    if (reset) {
      struct linger l = { 1, 0 };
      setsockopt(s->fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    }
    close(s->fd);
  }
  s->fd = -1;
  free(s->q);
  s->q = NULL;
  s->qoff = s->qlen = s->qcap = 0;
}

/* The environment ends with the socket open. */
static void teardown(rx_env_socket_t *link) {
  shutdown_socket((tcp_socket_t *)link, 0);
}

static void finalize(napi_env env, void *data, void *hint) {
  tcp_socket_t *s = data;
  (void)hint;
  shutdown_socket(s, 0);
  if (s->wrapper != NULL) {
    napi_delete_reference(env, s->wrapper);
    s->wrapper = NULL;
  }
  s->finalized = 1;
  free(s->q);
  free(s);
}

/* A callback's result as a number: a number as it is (negative ones as 0), false as 0, anything
   else (true, undefined) as -1. A number, the usual answer, costs one call (napi_number_expected,
   no exception, otherwise). */
static int64_t callback_answer(napi_env env, napi_value result) {
  int64_t n = 0;
  if (result == NULL) return -1;
  if (napi_get_value_int64(env, result, &n) == napi_ok) return n < 0 ? 0 : n;
  bool b = true;
  if (napi_get_value_bool(env, result, &b) == napi_ok) return b ? -1 : 0;
  return -1;
}

/*
 * Calls callback `which`; returns its result as a number: a number as it is (negative ones as
 * 0), false as 0, anything else (true, undefined) as -1.
 */
static int64_t call_js(tcp_socket_t *s, int which, size_t argc, napi_value *argv) {
  napi_env env = s->env;
  napi_value fn, recv, result = NULL;
  if (s->cb[which] == NULL || napi_get_reference_value(env, s->cb[which], &fn) != napi_ok || fn == NULL) return -1;
  napi_get_reference_value(env, s->wrapper, &recv);
  s->in_callback++;
  napi_status st = napi_make_callback(env, s->async_ctx, recv, fn, argc, argv, &result);
  s->in_callback--;
  if (st == napi_pending_exception) {
    napi_value exception;
    napi_get_and_clear_last_exception(env, &exception);
    napi_fatal_exception(env, exception);
    return -1;
  }
  return callback_answer(env, result);
}

static void update_poll(tcp_socket_t *s) {
  if (s->closed) return;
  int events = 0;
  if (s->connecting || s->qlen > 0 || s->pending_err != 0) events |= UV_WRITABLE;
  if (!s->connecting && s->reading && !s->eof) events |= UV_READABLE;
  /* An epoll_ctl only on a change (rx_host_poll_watch): a connection changes its interest a few
     times at most. An fd the set refuses (out of memory, the watch limit) is kept as the error
     the socket reports (from a wake-up, or as a failed write). */
  int err = rx_host_poll_watch(s->shared, &s->watch, events);
  if (err < 0 && s->pending_err == 0) s->pending_err = -err;
}

/* A failure: the socket is done; JavaScript hears onError(errno) once. */
static void fail(tcp_socket_t *s, int err) {
  if (s->closed) return;
  shutdown_socket(s, 0);
  napi_value arg;
  napi_create_int32(s->env, err, &arg);
  call_js(s, CB_ERROR, 1, &arg);
}

static void maybe_shut(tcp_socket_t *s) {
  if (s->end_pending && !s->shut && s->qlen == 0 && !s->closed && !s->connecting) {
    s->shut = 1;
    shutdown(s->fd, SHUT_WR);
  }
}

/* Sends queued bytes; 0, or an errno that failed the socket. */
static int flush(tcp_socket_t *s) {
  while (s->qlen > 0) {
    ssize_t r = send(s->fd, s->q + s->qoff, s->qlen, MSG_NOSIGNAL);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return 0;
    if (r < 0) return errno;
    s->qoff += (size_t)r;
    s->qlen -= (size_t)r;
  }
  s->qoff = 0;
  return 0;
}

/* onData's answer: the most bytes the next read takes; 0 pauses reading. */
static void take_read_limit(tcp_socket_t *s, int64_t limit) {
  s->read_limit = limit < 0 || limit > TCP_READ_MAX ? TCP_READ_MAX : (size_t)limit;
  if (limit == 0 && !s->closed) {
    s->reading = 0;
    update_poll(s);
  }
}

static void on_ready(rx_host_watch_t *w, int status, int events) {
  tcp_socket_t *s = (tcp_socket_t *)((char *)w - offsetof(tcp_socket_t, watch));
  if (s->closed) return;
  napi_env env = s->env;
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  if (s->pending_err != 0) {
    fail(s, s->pending_err);
    goto done;
  }
  if (s->connecting) {
    if (status < 0 || (events & UV_WRITABLE)) {
      int err = 0;
      socklen_t len = sizeof err;
      if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
      if (err == 0 && status < 0) err = ECONNREFUSED;
      napi_value arg;
      napi_create_int32(env, err, &arg);
      s->connecting = 0;
      if (err != 0) shutdown_socket(s, 0);
      else update_poll(s);
      call_js(s, CB_CONNECT, 1, &arg);
    }
    goto done;
  }
  if (status < 0) {
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len);
    fail(s, err != 0 ? err : ECONNRESET);
    goto done;
  }
  if ((events & UV_WRITABLE) && s->qlen > 0) {
    int err = flush(s);
    if (err != 0) {
      fail(s, err);
      goto done;
    }
    if (s->qlen == 0) {
      maybe_shut(s);
      update_poll(s);
      call_js(s, CB_DRAIN, 0, NULL);
      if (s->closed) goto done;
    }
  }
  if ((events & UV_READABLE) && s->reading && !s->eof) {
    ssize_t r;
    do r = recv(s->fd, s->shared->tcp_buf, s->read_limit, 0);
    while (r < 0 && errno == EINTR);
    if (r > 0) {
      s->shared->tcp_read[0] = (uint32_t)r;
      take_read_limit(s, call_js(s, CB_DATA, 0, NULL));
    } else if (r == 0) {
      s->eof = 1;
      update_poll(s);
      call_js(s, CB_END, 0, NULL);
    } else if (errno != EAGAIN && errno != EWOULDBLOCK) {
      fail(s, errno);
    }
  }
done:
  napi_close_handle_scope(env, scope);
  if (s->closed && s->in_callback == 0) release_js(s);
}

static tcp_socket_t *this_socket(napi_env env, napi_callback_info info, size_t *argc, napi_value *argv) {
  return rx_unwrap_this(env, info, argc, argv, "TcpSocket");
}

static napi_value int_result(napi_env env, int32_t v) {
  napi_value out;
  napi_create_int32(env, v, &out);
  return out;
}

/* new TcpSocket({ onConnect, onData, onEnd, onError, onDrain }) */
static napi_value tcp_new(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], self, name;
  napi_get_cb_info(env, info, &argc, argv, &self, NULL);
  static const char *names[CB_COUNT] = { "onConnect", "onData", "onEnd", "onError", "onDrain" };
  napi_value fns[CB_COUNT];
  napi_valuetype t = napi_undefined;
  if (argc >= 1) napi_typeof(env, argv[0], &t);
  for (int i = 0; i < CB_COUNT; i++) {
    napi_valuetype ft = napi_undefined;
    if (t == napi_object && napi_get_named_property(env, argv[0], names[i], &fns[i]) == napi_ok) napi_typeof(env, fns[i], &ft);
    if (ft != napi_function) {
      napi_throw_error(env, "ERR_INVALID_ARG_TYPE", "TcpSocket({ onConnect, onData, onEnd, onError, onDrain }) takes five functions");
      return NULL;
    }
  }
  rx_socket_env_t *shared = rx_socket_env(env);
  if (shared == NULL || shared->tearing_down) {
    napi_throw_error(env, "ERR_INVALID_STATE", "TcpSocket: the addon's environment is not set up");
    return NULL;
  }
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    const char *code = rx_errno_name(errno);
    napi_throw_error(env, code != NULL ? code : "EIO", strerror(errno));
    return NULL;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  tcp_socket_t *s = calloc(1, sizeof *s);
  if (s == NULL) {
    free(s);
    close(fd);
    napi_throw_error(env, "ENOMEM", "TcpSocket: out of memory");
    return NULL;
  }
  s->shared = shared;
  s->link.teardown = teardown;
  rx_socket_env_add(shared, &s->link);
  s->env = env;
  s->fd = fd;
  s->watch.fd = fd;
  s->watch.ready = on_ready;
  s->reading = 1;
  s->read_limit = TCP_READ_MAX;
  for (int i = 0; i < CB_COUNT; i++) napi_create_reference(env, fns[i], 1, &s->cb[i]);
  napi_create_string_utf8(env, "rx_tcp_socket", NAPI_AUTO_LENGTH, &name);
  napi_async_init(env, self, name, &s->async_ctx);
  napi_wrap(env, self, s, finalize, NULL, &s->wrapper);
  uint32_t refs;
  napi_reference_ref(env, s->wrapper, &refs);
  return self;
}

/*
 * connect(address: host-order uint32, port, settle?: boolean): 0 (onConnect follows), or -errno
 * (failed at once). With `settle`, a connect the kernel finished inside the call returns 1
 * and no onConnect follows (or -errno when it was refused there): to a server on this host the
 * whole handshake runs inside connect(2) (loopback delivers in the same system call, and the
 * SYN-ACK waiting in the socket's backlog is processed before the call returns), so waiting for
 * the poll to say so would cost a wake-up per connection. Found with a poll(2) of no timeout.
 */
static napi_value tcp_connect(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  tcp_socket_t *s = this_socket(env, info, &argc, argv);
  if (s == NULL) return NULL;
  uint32_t addr = 0, port = 0;
  if (argc < 2 || napi_get_value_uint32(env, argv[0], &addr) != napi_ok || napi_get_value_uint32(env, argv[1], &port) != napi_ok || port > 65535) {
    napi_throw_error(env, "ERR_INVALID_ARG_TYPE", "connect(address: number, port: number)");
    return NULL;
  }
  if (s->closed) return int_result(env, -EBADF);
  struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr.s_addr = htonl(addr) };
  int r;
  do r = connect(s->fd, (struct sockaddr *)&to, sizeof to);
  while (r < 0 && errno == EINTR);
  if (r < 0 && errno != EINPROGRESS) {
    int err = errno;
    shutdown_socket(s, 0);
    if (s->in_callback == 0) release_js(s);
    return int_result(env, -err);
  }
  bool settle = false;
  if (argc >= 3) napi_get_value_bool(env, argv[2], &settle);
  if (settle) {
    struct pollfd p = { .fd = s->fd, .events = POLLOUT };
    int n;
    do n = poll(&p, 1, 0);
    while (n < 0 && errno == EINTR);
    if (n == 1) {
      int err = 0;
      socklen_t len = sizeof err;
      if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
      if (err == 0 && (p.revents & (POLLERR | POLLHUP))) err = ECONNREFUSED;
      if (err != 0) {
        shutdown_socket(s, 0);
        if (s->in_callback == 0) release_js(s);
        return int_result(env, -err);
      }
      update_poll(s); /* reading from now on */
      return int_result(env, 1);
    }
  }
  s->connecting = 1;
  update_poll(s);
  return int_result(env, 0);
}

/*
 * write(data): true when all of it is with the kernel; false when some waits here (onDrain
 * later). The typed array is read with one N-API call (napi_get_typedarray_info refuses what is
 * not one, with no exception).
 */
static napi_value write_maybe_read(napi_env env, napi_callback_info info, int then_read);

static napi_value tcp_write(napi_env env, napi_callback_info info) {
  return write_maybe_read(env, info, 0);
}

/*
 * writeAndRead(data): write's answer, after reading what the peer has already sent back, the
 * answer to these bytes, and calling onData() for it before returning. On a CPU shared with
 * the peer, the peer runs as the send wakes it (the scheduler switches to it on the way out
 * of the system call), and its answer is queued before send returns: read here, it costs no
 * poll wake-up and joins the caller's task (the nat's TUN batch, whose write to the device
 * goes out at its end). Only when all of `data` went to the kernel and reading is on. Where
 * the answer comes later, the read finds nothing: after ANSWER_MISSES such reads in a row it
 * is skipped, tried again every ANSWER_PROBE_EVERY-th call, and the poll delivers the answer.
 * The peer's FIN found here goes to onEnd() likewise; an error the read took is reported from
 * the next wake-up, as a failed write's.
 */
static napi_value tcp_write_and_read(napi_env env, napi_callback_info info) {
  return write_maybe_read(env, info, 1);
}

/* Calls callback `which` from inside a method JavaScript called: a plain call (the caller's task
   runs its microtasks afterwards); an exception stays pending and reaches that caller. */
static napi_status call_js_now(napi_env env, tcp_socket_t *s, int which, napi_value *result) {
  napi_value fn, recv_this;
  if (s->cb[which] == NULL || napi_get_reference_value(env, s->cb[which], &fn) != napi_ok || fn == NULL) return napi_ok;
  napi_get_reference_value(env, s->wrapper, &recv_this);
  s->in_callback++;
  napi_status st = napi_call_function(env, recv_this, fn, 0, NULL, result);
  s->in_callback--;
  return st;
}

/* One read of what is waiting, for writeAndRead and endAndRead: bytes to onData, the peer's FIN
   to onEnd, an error kept for the next wake-up; false when an exception is pending. */
static int read_answer(napi_env env, tcp_socket_t *s) {
  if (s->answer_misses >= ANSWER_MISSES && ++s->answer_skips % ANSWER_PROBE_EVERY != 0) return 1;
  ssize_t r;
  do r = recv(s->fd, s->shared->tcp_buf, s->read_limit, 0);
  while (r < 0 && errno == EINTR);
  if (r < 0) {
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      s->pending_err = errno;
      update_poll(s);
    } else {
      s->answer_misses++;
    }
    return 1;
  }
  s->answer_misses = 0;
  s->answer_skips = 0;
  napi_value result = NULL;
  if (r == 0) {
    s->eof = 1;
    update_poll(s);
    return call_js_now(env, s, CB_END, &result) == napi_ok;
  }
  s->shared->tcp_read[0] = (uint32_t)r;
  if (call_js_now(env, s, CB_DATA, &result) != napi_ok) return 0;
  if (!s->closed) take_read_limit(s, callback_answer(env, result));
  return 1;
}

/* read_answer, then the socket's JavaScript side let go if a callback closed it. */
static int read_answer_and_settle(napi_env env, tcp_socket_t *s) {
  int ok = read_answer(env, s);
  if (s->closed && s->in_callback == 0) release_js(s);
  return ok;
}

static napi_value write_maybe_read(napi_env env, napi_callback_info info, int then_read) {
  size_t argc = 1;
  napi_value argv[1], out;
  tcp_socket_t *s = this_socket(env, info, &argc, argv);
  if (s == NULL) return NULL;
  void *data = NULL;
  size_t len = 0;
  napi_typedarray_type type;
  if (argc < 1 || napi_get_typedarray_info(env, argv[0], &type, &len, &data, NULL, NULL) != napi_ok || type != napi_uint8_array) {
    napi_throw_error(env, "ERR_INVALID_ARG_TYPE", "write(data: Uint8Array)");
    return NULL;
  }
  if (s->closed || s->end_pending || s->pending_err != 0) {
    napi_get_boolean(env, false, &out);
    return out;
  }
  size_t sent = 0;
  if (s->qlen == 0 && !s->connecting) {
    while (sent < len) {
      ssize_t r = send(s->fd, (uint8_t *)data + sent, len - sent, MSG_NOSIGNAL);
      if (r < 0 && errno == EINTR) continue;
      if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      if (r < 0) {
        /* Reported as onError from the next wake-up: JavaScript is not re-entered from here. */
        s->pending_err = errno;
        update_poll(s);
        napi_get_boolean(env, false, &out);
        return out;
      }
      sent += (size_t)r;
    }
  }
  if (sent < len) {
    size_t rest = len - sent;
    if (s->qoff > 0 && s->qlen > 0) memmove(s->q, s->q + s->qoff, s->qlen);
    s->qoff = 0;
    if (s->qlen + rest > s->qcap) {
      size_t cap = s->qcap == 0 ? 65536 : s->qcap;
      while (cap < s->qlen + rest) cap *= 2;
      uint8_t *q = realloc(s->q, cap);
      if (q == NULL) {
        s->pending_err = ENOMEM;
        update_poll(s);
        napi_get_boolean(env, false, &out);
        return out;
      }
      s->q = q;
      s->qcap = cap;
    }
    memcpy(s->q + s->qlen, (uint8_t *)data + sent, rest);
    s->qlen += rest;
    update_poll(s);
  }
  int all_sent = s->qlen == 0;
  if (then_read && all_sent && s->reading && !s->eof && !s->closed && !s->connecting && s->pending_err == 0) {
    if (!read_answer_and_settle(env, s)) return NULL;
  }
  napi_get_boolean(env, all_sent, &out);
  return out;
}

/*
 * end(): FIN once everything written is sent.
 * endAndRead(): the same, then, when the FIN went out now, one read of what the peer already sent
 * in return (writeAndRead's read: on a CPU shared with it, a peer that closes when we do has
 * run and sent its FIN before shutdown(2) returns): its FIN to onEnd(), bytes to onData(),
 * before this returns.
 */
static napi_value end_maybe_read(napi_env env, napi_callback_info info, int then_read) {
  size_t argc = 0;
  tcp_socket_t *s = this_socket(env, info, &argc, NULL);
  if (s == NULL || s->closed) return NULL;
  s->end_pending = 1;
  maybe_shut(s);
  if (then_read && s->shut && s->reading && !s->eof && s->pending_err == 0) read_answer_and_settle(env, s);
  return NULL;
}

static napi_value tcp_end(napi_env env, napi_callback_info info) {
  return end_maybe_read(env, info, 0);
}

static napi_value tcp_end_and_read(napi_env env, napi_callback_info info) {
  return end_maybe_read(env, info, 1);
}

/* pause(), or resume(limit?: number): the most bytes the next read takes (no limit without). */
static napi_value set_reading(napi_env env, napi_callback_info info, int on) {
  size_t argc = 1;
  napi_value argv[1];
  tcp_socket_t *s = this_socket(env, info, &argc, argv);
  if (s == NULL || s->closed) return NULL;
  s->reading = on;
  if (on) {
    int64_t limit = TCP_READ_MAX;
    napi_valuetype t = napi_undefined;
    if (argc >= 1 && napi_typeof(env, argv[0], &t) == napi_ok && t == napi_number) napi_get_value_int64(env, argv[0], &limit);
    s->read_limit = limit <= 0 || limit > TCP_READ_MAX ? TCP_READ_MAX : (size_t)limit;
  }
  update_poll(s);
  return NULL;
}

static napi_value tcp_pause(napi_env env, napi_callback_info info) {
  return set_reading(env, info, 0);
}

static napi_value tcp_resume(napi_env env, napi_callback_info info) {
  return set_reading(env, info, 1);
}

/* close(reset?: boolean): closes now (queued bytes are dropped); with an RST when `reset`. */
static napi_value tcp_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  tcp_socket_t *s = this_socket(env, info, &argc, argv);
  if (s == NULL || s->closed) return NULL;
  bool reset = false;
  if (argc >= 1) napi_get_value_bool(env, argv[0], &reset);
  shutdown_socket(s, reset);
  if (s->in_callback == 0) release_js(s);
  return NULL;
}

static napi_value tcp_closed(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  tcp_socket_t *s = this_socket(env, info, &argc, NULL);
  if (s == NULL) return NULL;
  napi_value out;
  napi_get_boolean(env, s->closed, &out);
  return out;
}

/* The read buffer and `tcpRead` are the environment's (socket-env.c). */
void rx_tcp_socket_init(napi_env env, napi_value exports) {
  napi_property_descriptor methods[] = {
    { "connect", NULL, tcp_connect, NULL, NULL, NULL, napi_default, NULL },
    { "write", NULL, tcp_write, NULL, NULL, NULL, napi_default, NULL },
    { "writeAndRead", NULL, tcp_write_and_read, NULL, NULL, NULL, napi_default, NULL },
    { "end", NULL, tcp_end, NULL, NULL, NULL, napi_default, NULL },
    { "endAndRead", NULL, tcp_end_and_read, NULL, NULL, NULL, napi_default, NULL },
    { "pause", NULL, tcp_pause, NULL, NULL, NULL, napi_default, NULL },
    { "resume", NULL, tcp_resume, NULL, NULL, NULL, napi_default, NULL },
    { "close", NULL, tcp_close, NULL, NULL, NULL, napi_default, NULL },
    { "closed", NULL, NULL, tcp_closed, NULL, NULL, napi_default, NULL },
  };
  napi_value cls;
  napi_define_class(env, "TcpSocket", NAPI_AUTO_LENGTH, tcp_new, NULL, sizeof methods / sizeof methods[0], methods, &cls);
  napi_set_named_property(env, exports, "TcpSocket", cls);
}
