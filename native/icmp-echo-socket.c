/*
 * IcmpEchoSocket: the host's ICMP datagram ("ping") socket, socket(AF_INET, SOCK_DGRAM,
 * IPPROTO_ICMP), which Node does not offer. Linux lets a process open one when its group is in
 * net.ipv4.ping_group_range (no CAP_NET_RAW needed, and root is not exempt). The kernel fills in
 * the echo identifier (the socket's own) and the checksum, and hands back only the echo replies
 * to that identifier.
 *
 * Non-blocking, watched by a uv_poll like the TAP fd: each readable wake-up reads the replies
 * waiting (a bounded number) and calls JavaScript once per reply with (source address as a
 * host-order uint32, sequence number). Sending is one sendto(), whose errno (EHOSTUNREACH for a
 * host with no route...) is returned, never thrown.
 *
 * Lifetime: the open socket holds its JS object (like a listening socket); close() stops the
 * poll and closes the fd; the struct is freed once the object is finalized and the poll closed.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/ip_icmp.h>
#include <node_api.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "errno-name.h"
#include "icmp-echo-socket.h"

/* Replies read per wake-up at most, so a flood cannot hold the loop. */
#define ECHO_READS_PER_WAKE 64
/* Largest echo we carry: 64 KiB less the IPv4 header. */
#define ECHO_MAX 65515

typedef struct {
  napi_env env;
  napi_ref wrapper;   /* strong while open */
  napi_ref on_reply;  /* (address, seq) => void */
  napi_async_context async_ctx;
  uv_poll_t poll;
  int poll_open;
  int fd;
  int closed;
  int finalized;
  int in_callback;
} echo_socket_t;

static uint8_t rx_buf[ECHO_MAX];

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

static void maybe_free(echo_socket_t *s) {
  if (s->finalized && !s->poll_open) free(s);
}

static void on_poll_closed(uv_handle_t *h) {
  echo_socket_t *s = h->data;
  s->poll_open = 0;
  maybe_free(s);
}

static void release_js(echo_socket_t *s) {
  if (s->on_reply != NULL) {
    napi_delete_reference(s->env, s->on_reply);
    s->on_reply = NULL;
  }
  if (s->async_ctx != NULL) {
    napi_async_destroy(s->env, s->async_ctx);
    s->async_ctx = NULL;
  }
  uint32_t count = 0;
  if (s->wrapper != NULL) napi_reference_unref(s->env, s->wrapper, &count);
}

static void shutdown_socket(echo_socket_t *s) {
  if (s->closed) return;
  s->closed = 1;
  if (s->poll_open) {
    uv_poll_stop(&s->poll);
    uv_close((uv_handle_t *)&s->poll, on_poll_closed);
  }
  if (s->fd >= 0) close(s->fd);
  s->fd = -1;
}

static void finalize(napi_env env, void *data, void *hint) {
  echo_socket_t *s = data;
  (void)hint;
  shutdown_socket(s);
  if (s->wrapper != NULL) {
    napi_delete_reference(env, s->wrapper);
    s->wrapper = NULL;
  }
  s->finalized = 1;
  maybe_free(s);
}

static void on_poll(uv_poll_t *h, int status, int events) {
  echo_socket_t *s = h->data;
  if (s->closed || status < 0 || !(events & UV_READABLE)) return;
  napi_env env = s->env;
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  for (int i = 0; i < ECHO_READS_PER_WAKE && !s->closed; i++) {
    struct sockaddr_in from;
    socklen_t from_len = sizeof from;
    ssize_t r = recvfrom(s->fd, rx_buf, sizeof rx_buf, 0, (struct sockaddr *)&from, &from_len);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) break; /* EAGAIN: all read; anything else: the next wake-up tries again */
    if (r < 8 || rx_buf[0] != ICMP_ECHOREPLY) continue;
    napi_value fn, recv, argv[2];
    if (s->on_reply == NULL || napi_get_reference_value(env, s->on_reply, &fn) != napi_ok) break;
    napi_get_reference_value(env, s->wrapper, &recv);
    napi_create_uint32(env, ntohl(from.sin_addr.s_addr), &argv[0]);
    napi_create_uint32(env, ((uint32_t)rx_buf[6] << 8) | rx_buf[7], &argv[1]);
    s->in_callback++;
    napi_status st = napi_make_callback(env, s->async_ctx, recv, fn, 2, argv, NULL);
    s->in_callback--;
    if (st == napi_pending_exception) {
      napi_value exception;
      napi_get_and_clear_last_exception(env, &exception);
      napi_fatal_exception(env, exception);
    }
  }
  napi_close_handle_scope(env, scope);
  if (s->closed && s->in_callback == 0) release_js(s);
}

static echo_socket_t *this_socket(napi_env env, napi_callback_info info, size_t *argc, napi_value *argv) {
  napi_value self;
  void *data = NULL;
  if (napi_get_cb_info(env, info, argc, argv, &self, NULL) != napi_ok) return NULL;
  if (napi_unwrap(env, self, &data) != napi_ok || data == NULL) {
    napi_throw_error(env, "ERR_INVALID_THIS", "not an IcmpEchoSocket");
    return NULL;
  }
  return data;
}

/* new IcmpEchoSocket(onReply): throws an Error with the errno's code (EACCES: not allowed by
   net.ipv4.ping_group_range) when the kernel refuses the socket. */
static napi_value echo_new(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], self, name;
  napi_get_cb_info(env, info, &argc, argv, &self, NULL);
  napi_valuetype type = napi_undefined;
  if (argc >= 1) napi_typeof(env, argv[0], &type);
  if (type != napi_function) {
    napi_throw_error(env, "ERR_INVALID_ARG_TYPE", "IcmpEchoSocket(onReply) takes a function");
    return NULL;
  }
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_ICMP);
  if (fd < 0) return throw_errno(env, errno, "socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP)");
  echo_socket_t *s = calloc(1, sizeof *s);
  uv_loop_t *loop = NULL;
  if (s == NULL || napi_get_uv_event_loop(env, &loop) != napi_ok || uv_poll_init(loop, &s->poll, fd) != 0) {
    free(s);
    close(fd);
    return throw_errno(env, ENOMEM, "IcmpEchoSocket");
  }
  s->env = env;
  s->fd = fd;
  s->poll.data = s;
  s->poll_open = 1;
  napi_create_reference(env, argv[0], 1, &s->on_reply);
  napi_create_string_utf8(env, "rx_icmp_echo", NAPI_AUTO_LENGTH, &name);
  napi_async_init(env, self, name, &s->async_ctx);
  napi_wrap(env, self, s, finalize, NULL, &s->wrapper);
  uint32_t refs;
  napi_reference_ref(env, s->wrapper, &refs);
  uv_poll_start(&s->poll, UV_READABLE, on_poll);
  return self;
}

/* send(address: host-order uint32, seq, data: Uint8Array): 0, or -errno. */
static napi_value echo_send(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3], out;
  echo_socket_t *s = this_socket(env, info, &argc, argv);
  if (s == NULL) return NULL;
  uint32_t addr = 0, seq = 0;
  void *data = NULL;
  size_t len = 0;
  bool is_ta = false;
  napi_typedarray_type ta_type;
  if (argc < 3 || napi_get_value_uint32(env, argv[0], &addr) != napi_ok || napi_get_value_uint32(env, argv[1], &seq) != napi_ok ||
      napi_is_typedarray(env, argv[2], &is_ta) != napi_ok || !is_ta ||
      napi_get_typedarray_info(env, argv[2], &ta_type, &len, &data, NULL, NULL) != napi_ok || ta_type != napi_uint8_array) {
    napi_throw_error(env, "ERR_INVALID_ARG_TYPE", "send(address: number, seq: number, data: Uint8Array)");
    return NULL;
  }
  int32_t result = 0;
  if (s->closed) result = -EBADF;
  else if (len > ECHO_MAX - 8) result = -EMSGSIZE;
  else {
    static uint8_t tx_buf[ECHO_MAX];
    tx_buf[0] = ICMP_ECHO;
    tx_buf[1] = 0;
    memset(tx_buf + 2, 0, 4); /* checksum and identifier: the kernel's */
    tx_buf[6] = (uint8_t)(seq >> 8);
    tx_buf[7] = (uint8_t)seq;
    if (len > 0) memcpy(tx_buf + 8, data, len);
    struct sockaddr_in to = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(addr) };
    ssize_t r;
    do r = sendto(s->fd, tx_buf, len + 8, 0, (struct sockaddr *)&to, sizeof to);
    while (r < 0 && errno == EINTR);
    if (r < 0) result = -errno;
  }
  napi_create_int32(env, result, &out);
  return out;
}

static napi_value echo_close(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  echo_socket_t *s = this_socket(env, info, &argc, NULL);
  if (s == NULL || s->closed) return NULL;
  shutdown_socket(s);
  if (s->in_callback == 0) release_js(s);
  return NULL;
}

static napi_value echo_set_ref(napi_env env, napi_callback_info info, int ref) {
  size_t argc = 0;
  echo_socket_t *s = this_socket(env, info, &argc, NULL);
  if (s == NULL || s->closed) return NULL;
  if (ref) uv_ref((uv_handle_t *)&s->poll);
  else uv_unref((uv_handle_t *)&s->poll);
  return NULL;
}

static napi_value echo_ref(napi_env env, napi_callback_info info) {
  return echo_set_ref(env, info, 1);
}

static napi_value echo_unref(napi_env env, napi_callback_info info) {
  return echo_set_ref(env, info, 0);
}

void rx_icmp_echo_init(napi_env env, napi_value exports) {
  napi_property_descriptor methods[] = {
    { "send", NULL, echo_send, NULL, NULL, NULL, napi_default, NULL },
    { "close", NULL, echo_close, NULL, NULL, NULL, napi_default, NULL },
    { "ref", NULL, echo_ref, NULL, NULL, NULL, napi_default, NULL },
    { "unref", NULL, echo_unref, NULL, NULL, NULL, napi_default, NULL },
  };
  napi_value cls;
  napi_define_class(env, "IcmpEchoSocket", NAPI_AUTO_LENGTH, echo_new, NULL, sizeof methods / sizeof methods[0], methods, &cls);
  napi_set_named_property(env, exports, "IcmpEchoSocket", cls);
}
