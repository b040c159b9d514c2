#include <stdlib.h>

#include "host-poll.h"
#include "socket-env.h"

/* The epoll set's uv_poll has closed (or there was none): Node may end the environment. */
static void on_set_closed(rx_socket_env_t *e) {
  if (e->cleanup != NULL) {
    napi_remove_async_cleanup_hook(e->cleanup);
    e->cleanup = NULL;
  }
}

/* Closes every open socket, then the epoll set's uv_poll; Node runs the loop until its close
   callback removes the hook. */
static void on_env_teardown(napi_async_cleanup_hook_handle handle, void *arg) {
  rx_socket_env_t *e = arg;
  (void)handle;
  e->tearing_down = 1;
  /* teardown() takes the socket off the list. */
  while (e->open.next != &e->open) e->open.next->teardown(e->open.next);
  rx_host_poll_close(e, on_set_closed);
}

static void finalize_env(napi_env env, void *data, void *hint) {
  rx_socket_env_t *e = data;
  (void)hint;
  for (int i = 0; i < 4; i++)
    if (e->refs[i] != NULL) napi_delete_reference(env, e->refs[i]);
  free(e);
}

static int shared_array(napi_env env, napi_value exports, const char *name, size_t bytes, int uint32, void **data, napi_ref *ref) {
  napi_value ab, out;
  if (napi_create_arraybuffer(env, bytes, data, &ab) != napi_ok) return -1;
  out = ab;
  if (uint32 && napi_create_typedarray(env, napi_uint32_array, bytes / sizeof(uint32_t), ab, 0, &out) != napi_ok) return -1;
  if (napi_create_reference(env, out, 1, ref) != napi_ok) return -1;
  return napi_set_named_property(env, exports, name, out) == napi_ok ? 0 : -1;
}

int rx_socket_env_init(napi_env env, napi_value exports) {
  rx_socket_env_t *e = calloc(1, sizeof *e);
  if (e == NULL) {
    napi_throw_error(env, "ENOMEM", "out of memory");
    return -1;
  }
  e->env = env;
  e->epfd = -1;
  e->open.prev = e->open.next = &e->open;
  if (napi_set_instance_data(env, e, finalize_env, NULL) != napi_ok) {
    free(e);
    return -1;
  }
  /* From here on `e` is the environment's: finalize_env frees it, whatever fails below. */
  if (shared_array(env, exports, "datagramReadBuffer", RX_DGRAM_MAX, 0, (void **)&e->dgram_buf, &e->refs[0]) != 0 ||
      shared_array(env, exports, "datagramRead", RX_DGRAM_SLOTS * sizeof(uint32_t), 1, (void **)&e->dgram_read, &e->refs[1]) != 0 ||
      shared_array(env, exports, "tcpReadBuffer", RX_TCP_READ_MAX, 0, (void **)&e->tcp_buf, &e->refs[2]) != 0 ||
      shared_array(env, exports, "tcpRead", sizeof(uint32_t), 1, (void **)&e->tcp_read, &e->refs[3]) != 0 ||
      napi_add_async_cleanup_hook(env, on_env_teardown, e, &e->cleanup) != napi_ok)
    return -1;
  return 0;
}

rx_socket_env_t *rx_socket_env(napi_env env) {
  void *data = NULL;
  return napi_get_instance_data(env, &data) == napi_ok ? data : NULL;
}

void rx_socket_env_add(rx_socket_env_t *e, rx_env_socket_t *s) {
  s->next = &e->open;
  s->prev = e->open.prev;
  e->open.prev->next = s;
  e->open.prev = s;
}

void rx_socket_env_remove(rx_socket_env_t *e, rx_env_socket_t *s) {
  s->prev->next = s->next;
  s->next->prev = s->prev;
  s->prev = s->next = NULL;
}
