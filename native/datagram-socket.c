/*
 * DatagramSocket: a host datagram socket for `rx-netstack nat`, UDP (a flow's connected socket)
 * or ICMP (the "ping" socket, socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP), which Node does not
 * offer; Linux allows it to a process whose group is in net.ipv4.ping_group_range, root not
 * exempt; the kernel sets the echo identifier and checksum and hands back only the replies to
 * that identifier).
 *
 * Why not node:dgram for UDP: per datagram it allocates a 64 KiB buffer and shrinks it, builds
 * an address object (the address formatted as a string), and goes through an EventEmitter; a
 * request/response flow pays that on every transaction. Here a datagram is read into one
 * buffer shared by every socket of the environment (socket-env.h: the module's
 * `datagramReadBuffer`), valid only during the callback (the nat copies it into the packet it
 * builds).
 *
 * Non-blocking, watched by the environment's epoll set of host sockets (host-poll.h, one uv_poll
 * for all of them): each readable wake-up reads what is
 * waiting (a bounded number) and calls onMessage() per datagram, with no arguments: where it is
 * in the buffer, its length and its source (address as a host-order uint32, port) are in the
 * module's `datagramRead` Uint32Array, so no typed array and no number is made per datagram
 * (JavaScript cuts its view of the buffer). onError(errno) for an error the socket reports (a
 * connected UDP socket's ECONNREFUSED after the far side's ICMP port unreachable...).
 * connect() and send() return 0 or -errno; nothing throws once open. (send is not a function
 * bound to the socket, as the TAP handle's writers are: making one costs more per socket than
 * it saves per datagram, and most flows, DNS queries, are one datagram each way.)
 *
 * Lifetime: the open socket holds its JS object (like a listening socket); close() lets go of
 * its place in the epoll set and closes the fd; the struct is freed once the object is
 * finalized. When the environment ends (a worker thread exits) with the socket open, it is
 * closed then (socket-env.h).
 */
#include <errno.h>
#include <netinet/in.h>
#include <stddef.h>
#include <node_api.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "datagram-socket.h"
#include "host-poll.h"
#include "socket-env.h"
#include "errno-name.h"
#include "napi-this.h"
#include "udp-flow.h"

/* Datagrams read per wake-up at most, so a flood cannot hold the loop. */
#define DGRAM_READS_PER_WAKE 64
/* One read per wake-up under request/response (the TAP handle's rule, tap-read.c): after this
 * many wake-ups in a row that each found one datagram and then nothing (the read ending in
 * EAGAIN), a wake-up reads one datagram and skips that last read; the poll is level-triggered,
 * so a datagram left waiting wakes us again at once. Every DGRAM_SINGLE_PROBE_EVERY-th wake-up
 * reads until EAGAIN, so a backlog is read in batches again within that many wake-ups. */
#define DGRAM_SINGLE_AFTER 4
#define DGRAM_SINGLE_PROBE_EVERY 8
/* sendAndReceive's read after the send: once this many in a row found nothing, the read is
 * skipped, except every DGRAM_ANSWER_PROBE_EVERY-th call, which tries again. */
#define DGRAM_ANSWER_MISSES 4
#define DGRAM_ANSWER_PROBE_EVERY 16

typedef struct {
  rx_env_socket_t link; /* on the environment's list while open */
  rx_socket_env_t *shared;
  napi_env env;
  napi_ref wrapper;   /* strong while open */
  napi_ref on_message;
  napi_ref on_error;
  napi_async_context async_ctx;
  rx_host_watch_t watch; /* its place in the environment's epoll set */
  rx_udp_flow_t flow;    /* its flow, while registered with a TUN device's flow table (udp-flow.h) */
  int fd;
  int closed;
  int finalized;
  int in_callback;
  unsigned single_streak; /* wake-ups in a row that found one datagram, then nothing */
  unsigned single_reads;  /* wake-ups served by one read since the last read to EAGAIN */
  unsigned answer_misses; /* sendAndReceive reads in a row that found nothing */
  unsigned answer_skips;  /* sendAndReceive calls since reads were skipped */
} dgram_socket_t;

static napi_value throw_errno(napi_env env, int err, const char *what) {
  const char *name = rx_errno_name(err);
  char code[24], msg[200];
  if (name == NULL) {
    snprintf(code, sizeof code, "E%d", err);
    name = code;
  }
  snprintf(msg, sizeof msg, "%s %s (%s)", what, name, strerror(err));
  napi_throw_error(env, name, msg);
  return NULL;
}


static void delete_ref(napi_env env, napi_ref *ref) {
  if (*ref != NULL) {
    napi_delete_reference(env, *ref);
    *ref = NULL;
  }
}

static void release_js(dgram_socket_t *s) {
  delete_ref(s->env, &s->on_message);
  delete_ref(s->env, &s->on_error);
  if (s->async_ctx != NULL) {
    napi_async_destroy(s->env, s->async_ctx);
    s->async_ctx = NULL;
  }
  uint32_t count = 0;
  if (s->wrapper != NULL) napi_reference_unref(s->env, s->wrapper, &count);
}

static void shutdown_socket(dgram_socket_t *s) {
  if (s->closed) return;
  s->closed = 1;
  rx_flow_remove(&s->flow);
  /* Its close(2) takes the fd out of the epoll set: no epoll_ctl. */
  rx_host_poll_forget(s->shared, &s->watch);
  rx_socket_env_remove(s->shared, &s->link);
  if (s->fd >= 0) close(s->fd);
  s->fd = -1;
}

/* The environment ends with the socket open. */
static void teardown(rx_env_socket_t *link) {
  shutdown_socket((dgram_socket_t *)link);
}

static void finalize(napi_env env, void *data, void *hint) {
  dgram_socket_t *s = data;
  (void)hint;
  shutdown_socket(s);
  delete_ref(env, &s->wrapper);
  s->finalized = 1;
  free(s);
}

static void call_js(dgram_socket_t *s, napi_ref fn_ref, size_t argc, napi_value *argv) {
  napi_env env = s->env;
  napi_value fn, recv;
  if (fn_ref == NULL || napi_get_reference_value(env, fn_ref, &fn) != napi_ok || fn == NULL) return;
  napi_get_reference_value(env, s->wrapper, &recv);
  s->in_callback++;
  napi_status st = napi_make_callback(env, s->async_ctx, recv, fn, argc, argv, NULL);
  s->in_callback--;
  if (st == napi_pending_exception) {
    napi_value exception;
    napi_get_and_clear_last_exception(env, &exception);
    napi_fatal_exception(env, exception); /* 'uncaughtException', like a throwing listener */
  }
}

/* Where the datagram just read is, for JavaScript (the shared `datagramRead`). */
static void publish_read(dgram_socket_t *s, ssize_t r, const struct sockaddr_in *from) {
  uint32_t *read = s->shared->dgram_read;
  read[RX_DGRAM_OFFSET] = 0;
  read[RX_DGRAM_LENGTH] = (uint32_t)r;
  read[RX_DGRAM_ADDRESS] = ntohl(from->sin_addr.s_addr);
  read[RX_DGRAM_PORT] = ntohs(from->sin_port);
}

/*
 * What the flow path hands back (udp-flow.h): an error (the flow is out of the table already)
 * to onError, as the poll reports it; or an answer it could not send itself, copied from the
 * flow's packet buffer into the shared receive buffer, to onMessage. Needs a handle scope (the
 * poll's, or the TUN device's read loop's).
 */
static void flow_event_js(dgram_socket_t *s, int err, size_t len) {
  if (s->closed) return;
  if (err != 0) {
    napi_value code;
    napi_create_int32(s->env, err, &code);
    call_js(s, s->on_error, 1, &code);
  } else {
    size_t room;
    memmove(s->shared->dgram_buf, rx_flow_answer_room(&s->flow, &room), len);
    uint32_t *read = s->shared->dgram_read;
    read[RX_DGRAM_OFFSET] = 0;
    read[RX_DGRAM_LENGTH] = (uint32_t)len;
    read[RX_DGRAM_ADDRESS] = ntohl(s->flow.dest);
    read[RX_DGRAM_PORT] = ntohs(s->flow.dport);
    call_js(s, s->on_message, 0, NULL);
  }
}

/* From the TUN device's read loop (rx_flow_input). */
static void flow_event(void *socket, int err, size_t len) {
  dgram_socket_t *s = socket;
  flow_event_js(s, err, len);
  if (s->closed && s->in_callback == 0) release_js(s);
}

static void on_ready(rx_host_watch_t *w, int status, int events) {
  dgram_socket_t *s = (dgram_socket_t *)((char *)w - offsetof(dgram_socket_t, watch));
  if (s->closed) return;
  /* A pending socket error (EPOLLERR) comes as UV_EBADF: the reads below collect it (and the
     error is gone from the level-triggered set). */
  int errored = status < 0, fatal = 0;
  if (!errored && !(events & UV_READABLE)) return;
  napi_env env = s->env;
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  int single = s->single_streak >= DGRAM_SINGLE_AFTER && s->single_reads < DGRAM_SINGLE_PROBE_EVERY - 1;
  int limit = single ? 1 : DGRAM_READS_PER_WAKE, datagrams = 0, drained = 0;
  for (int i = 0; i < limit && !s->closed; i++) {
    struct sockaddr_in from;
    socklen_t from_len = sizeof from;
    ssize_t r;
    if (s->flow.table != NULL) {
      /* An offloaded flow: the answer is read behind room for its headers and goes to the TUN
         device from here (udp-flow.h); one the flow cannot send goes on to onMessage. */
      size_t room;
      uint8_t *into = rx_flow_answer_room(&s->flow, &room);
      r = recv(s->fd, into, room, 0);
      if (r >= 0) {
        datagrams++;
        if (!rx_flow_answer(&s->flow, (size_t)r)) flow_event_js(s, 0, (size_t)r);
        continue;
      }
      if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK) rx_flow_remove(&s->flow);
    } else {
      r = recvfrom(s->fd, s->shared->dgram_buf, RX_DGRAM_MAX, 0, (struct sockaddr *)&from, &from_len);
    }
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      drained = 1;
      break;
    }
    if (r < 0) {
      /* The socket's pending error (reading it clears it): tell JavaScript, read on. An fd that
         is itself unusable is not polled again. */
      int err = errno;
      if (err == EBADF || err == ENOTSOCK || err == EFAULT || err == EINVAL) fatal = 1;
      napi_value code;
      napi_create_int32(env, err, &code);
      call_js(s, s->on_error, 1, &code);
      if (fatal) break;
      continue;
    }
    publish_read(s, r, &from);
    datagrams++;
    call_js(s, s->on_message, 0, NULL);
  }
  if (single) s->single_reads++;
  else {
    s->single_reads = 0;
    s->single_streak = drained && datagrams == 1 ? s->single_streak + 1 : 0;
  }
  napi_close_handle_scope(env, scope);
  if (s->closed && s->in_callback == 0) release_js(s);
  else if (fatal && !s->closed) rx_host_poll_watch(s->shared, &s->watch, 0);
}

static dgram_socket_t *this_socket(napi_env env, napi_callback_info info, size_t *argc, napi_value *argv) {
  return rx_unwrap_this(env, info, argc, argv, "DatagramSocket");
}

/* new DatagramSocket('udp' | 'icmp', onMessage, onError): throws an Error with the errno's code
   when the kernel refuses the socket (EACCES for 'icmp' outside net.ipv4.ping_group_range). */
static napi_value dgram_new(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3], self, name;
  napi_get_cb_info(env, info, &argc, argv, &self, NULL);
  char kind[8] = "";
  size_t len = 0;
  napi_valuetype t1 = napi_undefined, t2 = napi_undefined;
  if (argc >= 3) {
    napi_typeof(env, argv[1], &t1);
    napi_typeof(env, argv[2], &t2);
  }
  if (argc < 3 || napi_get_value_string_utf8(env, argv[0], kind, sizeof kind, &len) != napi_ok ||
      (strcmp(kind, "udp") != 0 && strcmp(kind, "icmp") != 0) || t1 != napi_function || t2 != napi_function) {
    napi_throw_error(env, "ERR_INVALID_ARG_TYPE", "DatagramSocket('udp' | 'icmp', onMessage, onError)");
    return NULL;
  }
  rx_socket_env_t *shared = rx_socket_env(env);
  if (shared == NULL || shared->tearing_down) {
    napi_throw_error(env, "ERR_INVALID_STATE", "DatagramSocket: the addon's environment is not set up");
    return NULL;
  }
  int icmp = kind[0] == 'i';
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, icmp ? IPPROTO_ICMP : IPPROTO_UDP);
  if (fd < 0) return throw_errno(env, errno, icmp ? "socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP)" : "socket(AF_INET, SOCK_DGRAM)");
  dgram_socket_t *s = calloc(1, sizeof *s);
  int err = ENOMEM;
  if (s != NULL) {
    s->watch.fd = fd;
    s->watch.ready = on_ready;
    err = -rx_host_poll_watch(shared, &s->watch, UV_READABLE);
  }
  if (err != 0) {
    if (s != NULL) rx_host_poll_forget(shared, &s->watch);
    free(s);
    close(fd);
    return throw_errno(env, err, "DatagramSocket");
  }
  s->shared = shared;
  s->link.teardown = teardown;
  rx_socket_env_add(shared, &s->link);
  s->env = env;
  s->fd = fd;
  napi_create_reference(env, argv[1], 1, &s->on_message);
  napi_create_reference(env, argv[2], 1, &s->on_error);
  napi_create_string_utf8(env, "rx_datagram_socket", NAPI_AUTO_LENGTH, &name);
  napi_async_init(env, self, name, &s->async_ctx);
  napi_wrap(env, self, s, finalize, NULL, &s->wrapper);
  uint32_t refs;
  napi_reference_ref(env, s->wrapper, &refs);
  return self;
}

static int get_address(napi_env env, napi_value a, napi_value p, struct sockaddr_in *to) {
  uint32_t addr = 0, port = 0;
  if (napi_get_value_uint32(env, a, &addr) != napi_ok || napi_get_value_uint32(env, p, &port) != napi_ok || port > 65535) return -1;
  memset(to, 0, sizeof *to);
  to->sin_family = AF_INET;
  to->sin_addr.s_addr = htonl(addr);
  to->sin_port = htons((uint16_t)port);
  return 0;
}

static napi_value int_result(napi_env env, int32_t v) {
  napi_value out;
  napi_create_int32(env, v, &out);
  return out;
}

/* connect(address: host-order uint32, port): 0, or -errno (ENETUNREACH, EHOSTUNREACH: no route). */
static napi_value dgram_connect(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  dgram_socket_t *s = this_socket(env, info, &argc, argv);
  if (s == NULL) return NULL;
  struct sockaddr_in to;
  if (argc < 2 || get_address(env, argv[0], argv[1], &to) != 0) {
    napi_throw_error(env, "ERR_INVALID_ARG_TYPE", "connect(address: number, port: number)");
    return NULL;
  }
  if (s->closed) return int_result(env, -EBADF);
  int r;
  do r = connect(s->fd, (struct sockaddr *)&to, sizeof to);
  while (r < 0 && errno == EINTR);
  return int_result(env, r < 0 ? -errno : 0);
}

/*
 * The arguments of send / sendAndReceive: data (a Uint8Array, read with one N-API call:
 * napi_get_typedarray_info refuses what is not one, with no exception), and where `with_to`,
 * an optional address and port (has_to). False, with ERR_INVALID_ARG_TYPE thrown, when wrong.
 */
static int read_send_args(napi_env env, size_t argc, napi_value *argv, int with_to, void **data, size_t *len,
                          struct sockaddr_in *to, int *has_to) {
  napi_typedarray_type type;
  *has_to = with_to && argc >= 3;
  if (argc < 1 || napi_get_typedarray_info(env, argv[0], &type, len, data, NULL, NULL) != napi_ok || type != napi_uint8_array ||
      (*has_to && get_address(env, argv[1], argv[2], to) != 0)) {
    napi_throw_error(env, "ERR_INVALID_ARG_TYPE",
                     with_to ? "send(data: Uint8Array[, address: number, port: number])" : "sendAndReceive(data: Uint8Array)");
    return 0;
  }
  return 1;
}

/* One datagram out (to `to`, or the connected peer when NULL): bytes sent, or -1 with errno. */
static ssize_t send_datagram(dgram_socket_t *s, const void *data, size_t len, const struct sockaddr_in *to) {
  ssize_t r;
  do r = to != NULL ? sendto(s->fd, data, len, 0, (const struct sockaddr *)to, sizeof *to) : send(s->fd, data, len, 0);
  while (r < 0 && errno == EINTR);
  return r;
}

/* send(data: Uint8Array[, address, port]): 0, or -errno. Without an address: to the connected peer. */
static napi_value dgram_send(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  dgram_socket_t *s = this_socket(env, info, &argc, argv);
  if (s == NULL) return NULL;
  void *data = NULL;
  size_t len = 0;
  struct sockaddr_in to;
  int has_to;
  if (!read_send_args(env, argc, argv, 1, &data, &len, &to, &has_to)) return NULL;
  if (s->closed) return int_result(env, -EBADF);
  ssize_t r = send_datagram(s, data, len, has_to ? &to : NULL);
  return int_result(env, r < 0 ? -errno : 0);
}

/* Calls a callback from inside a method JavaScript called: a plain call (the caller's task runs
   its microtasks afterwards); an exception it throws stays pending and reaches that caller. */
static napi_status call_js_now(dgram_socket_t *s, napi_ref fn_ref, size_t argc, napi_value *argv) {
  napi_env env = s->env;
  napi_value fn, recv, ignored;
  if (fn_ref == NULL || napi_get_reference_value(env, fn_ref, &fn) != napi_ok || fn == NULL) return napi_ok;
  napi_get_reference_value(env, s->wrapper, &recv);
  s->in_callback++;
  napi_status st = napi_call_function(env, recv, fn, argc, argv, &ignored);
  s->in_callback--;
  return st;
}

/*
 * sendAndReceive(data: Uint8Array): send's result (0, or -errno), after reading one datagram
 * that is already waiting, the answer to this one, and calling onMessage() (or onError(errno))
 * for it before returning. On a CPU shared with the peer, the peer runs as the send wakes it
 * (the scheduler switches to it on the way out of the system call) and its answer is queued
 * before send returns: read here, it costs no poll wake-up and joins the caller's task (the
 * nat's TUN batch, whose write to the device goes out at its end). Where the answer comes
 * later (the peer on another CPU, a slow server), the read finds nothing: after
 * DGRAM_ANSWER_MISSES such reads in a row it is skipped, tried again every
 * DGRAM_ANSWER_PROBE_EVERY-th call, and the poll delivers the answer as before.
 */
static napi_value dgram_send_and_receive(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  dgram_socket_t *s = this_socket(env, info, &argc, argv);
  if (s == NULL) return NULL;
  void *data = NULL;
  size_t len = 0;
  int has_to;
  if (!read_send_args(env, argc, argv, 0, &data, &len, NULL, &has_to)) return NULL;
  if (s->closed) return int_result(env, -EBADF);
  ssize_t r = send_datagram(s, data, len, NULL);
  if (r < 0) return int_result(env, -errno);
  if (s->answer_misses >= DGRAM_ANSWER_MISSES && ++s->answer_skips % DGRAM_ANSWER_PROBE_EVERY != 0) return int_result(env, 0);
  struct sockaddr_in from;
  socklen_t from_len = sizeof from;
  do r = recvfrom(s->fd, s->shared->dgram_buf, RX_DGRAM_MAX, 0, (struct sockaddr *)&from, &from_len);
  while (r < 0 && errno == EINTR);
  napi_status st = napi_ok;
  if (r >= 0) {
    s->answer_misses = 0;
    s->answer_skips = 0;
    publish_read(s, r, &from);
    st = call_js_now(s, s->on_message, 0, NULL);
  } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
    s->answer_misses++;
  } else {
    /* The socket's pending error, which the read took: JavaScript hears of it as from the poll. */
    napi_value code;
    napi_create_int32(env, errno, &code);
    st = call_js_now(s, s->on_error, 1, &code);
  }
  if (s->closed && s->in_callback == 0) release_js(s);
  return st == napi_ok ? int_result(env, 0) : NULL;
}

static napi_value dgram_close(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  dgram_socket_t *s = this_socket(env, info, &argc, NULL);
  if (s == NULL || s->closed) return NULL;
  shutdown_socket(s);
  if (s->in_callback == 0) release_js(s);
  return NULL;
}

static napi_value dgram_set_ref(napi_env env, napi_callback_info info, int ref) {
  size_t argc = 0;
  dgram_socket_t *s = this_socket(env, info, &argc, NULL);
  if (s == NULL || s->closed) return NULL;
  rx_host_poll_ref(s->shared, &s->watch, ref);
  return NULL;
}

static napi_value dgram_ref(napi_env env, napi_callback_info info) {
  return dgram_set_ref(env, info, 1);
}

static napi_value dgram_unref(napi_env env, napi_callback_info info) {
  return dgram_set_ref(env, info, 0);
}

/*
 * offload(tun: TapHandle, client, clientPort, destination, destinationPort, ttl, ipId, mtu): the
 * socket's flow (addresses host-order uint32) is relayed by the TUN device's read loop and this
 * socket's readiness from now on (udp-flow.h); replies get `ttl` and IPv4 IDs from ipId + 1, and
 * go the JavaScript way when longer than `mtu`. 0, or -errno: EEXIST (the 4-tuple is another
 * socket's), EBADF (closed, or `tun` not an open device).
 */
static napi_value dgram_offload(napi_env env, napi_callback_info info) {
  size_t argc = 8;
  napi_value argv[8];
  dgram_socket_t *s = this_socket(env, info, &argc, argv);
  if (s == NULL) return NULL;
  uint32_t v[7];
  int bad = argc < 8;
  for (size_t i = 1; i < 8 && !bad; i++) bad = napi_get_value_uint32(env, argv[i], &v[i - 1]) != napi_ok;
  if (bad || v[1] > 65535 || v[3] > 65535 || v[4] > 255 || v[5] > 65535) {
    napi_throw_error(env, "ERR_INVALID_ARG_TYPE", "offload(tun, client, clientPort, destination, destinationPort, ttl, ipId, mtu)");
    return NULL;
  }
  if (s->closed) return int_result(env, -EBADF);
  rx_flow_table_t *table = rx_tap_flow_table(env, argv[0], v[6]);
  if (table == NULL) return int_result(env, -EBADF);
  rx_udp_flow_t *f = &s->flow;
  if (f->table != NULL) return int_result(env, f->table == table ? 0 : -EEXIST);
  f->client = htonl(v[0]);
  f->cport = htons((uint16_t)v[1]);
  f->dest = htonl(v[2]);
  f->dport = htons((uint16_t)v[3]);
  f->ttl = (uint8_t)v[4];
  f->ip_id = (uint16_t)v[5];
  f->fd = s->fd;
  f->socket = s;
  f->on_event = flow_event;
  return int_result(env, rx_flow_add(table, f));
}

/* offloadEnd(): the flow goes the JavaScript way again (nothing when it is not offloaded). */
static napi_value dgram_offload_end(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  dgram_socket_t *s = this_socket(env, info, &argc, NULL);
  if (s == NULL) return NULL;
  rx_flow_remove(&s->flow);
  return NULL;
}

/*
 * takeFlowCounts(out: Float64Array(5)): what the flow path relayed since the last call
 * (datagrams and payload bytes from the namespace, then to it, then the datagrams either way),
 * added to out[0..4] and zeroed here. Returns whether the flow is still offloaded.
 */
static napi_value dgram_take_flow_counts(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  dgram_socket_t *s = this_socket(env, info, &argc, argv);
  if (s == NULL) return NULL;
  napi_typedarray_type type;
  size_t len = 0;
  void *data = NULL;
  if (argc < 1 || napi_get_typedarray_info(env, argv[0], &type, &len, &data, NULL, NULL) != napi_ok || type != napi_float64_array ||
      len < RX_FLOW_COUNTS + 1) {
    napi_throw_error(env, "ERR_INVALID_ARG_TYPE", "takeFlowCounts(out: Float64Array(5))");
    return NULL;
  }
  double *out = data;
  rx_udp_flow_t *f = &s->flow;
  for (int i = 0; i < RX_FLOW_COUNTS; i++) {
    out[i] += f->counts[i];
    f->counts[i] = 0;
  }
  out[RX_FLOW_COUNTS] += f->active;
  f->active = 0;
  napi_value result;
  napi_get_boolean(env, f->table != NULL, &result);
  return result;
}

/* The receive buffer and `datagramRead` are the environment's (socket-env.c). */
void rx_datagram_socket_init(napi_env env, napi_value exports) {
  napi_property_descriptor methods[] = {
    { "connect", NULL, dgram_connect, NULL, NULL, NULL, napi_default, NULL },
    { "send", NULL, dgram_send, NULL, NULL, NULL, napi_default, NULL },
    { "sendAndReceive", NULL, dgram_send_and_receive, NULL, NULL, NULL, napi_default, NULL },
    { "close", NULL, dgram_close, NULL, NULL, NULL, napi_default, NULL },
    { "offload", NULL, dgram_offload, NULL, NULL, NULL, napi_default, NULL },
    { "offloadEnd", NULL, dgram_offload_end, NULL, NULL, NULL, napi_default, NULL },
    { "takeFlowCounts", NULL, dgram_take_flow_counts, NULL, NULL, NULL, napi_default, NULL },
    { "ref", NULL, dgram_ref, NULL, NULL, NULL, napi_default, NULL },
    { "unref", NULL, dgram_unref, NULL, NULL, NULL, napi_default, NULL },
  };
  napi_value cls;
  napi_define_class(env, "DatagramSocket", NAPI_AUTO_LENGTH, dgram_new, NULL, sizeof methods / sizeof methods[0], methods, &cls);
  napi_set_named_property(env, exports, "DatagramSocket", cls);
}
