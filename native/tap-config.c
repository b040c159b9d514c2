/* The TAP handle's device settings through N-API: name, MAC, MTU, flags, send buffer, offloads, test switches. */
#include <errno.h>
#include <string.h>

#include "tap-handle.h"
#include "tap-napi.h"

napi_value tap_name(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  rx_tap_t *t = tap_this(env, info, &argc, NULL);
  if (t == NULL) return NULL;
  if (!t->closed) {
    rx_tap_error_t e;
    char now[IFNAMSIZ];
    if (rx_tap_current_name(t->fd, now, &e) == 0) memcpy(t->name, now, IFNAMSIZ);
  }
  napi_value out;
  napi_create_string_utf8(env, t->name, NAPI_AUTO_LENGTH, &out);
  return out;
}

napi_value tap_rename(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  rx_tap_t *t = tap_this_open(env, info, &argc, argv);
  if (t == NULL) return NULL;
  char name[64];
  int rc = argc >= 1 ? tap_get_string(env, argv[0], name, sizeof name) : -1;
  if (rc == -1) return tap_throw_code(env, "ERR_INVALID_ARG_TYPE", "name must be a string");
  if (rc == -2) name[IFNAMSIZ] = '\0';
  rx_tap_error_t e;
  if (rx_tap_rename(t->fd, t->ctl, name, &e) != 0) return tap_throw_error(env, &e);
  rx_tap_current_name(t->fd, t->name, &e);
  return NULL;
}

napi_value tap_get_mac(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  rx_tap_t *t = tap_this_open(env, info, &argc, NULL);
  if (t == NULL) return NULL;
  uint8_t mac[6];
  rx_tap_error_t e;
  if (rx_tap_get_mac(t->fd, mac, &e) != 0) return tap_throw_error(env, &e);
  napi_value out;
  void *copy;
  napi_create_buffer_copy(env, 6, mac, &copy, &out);
  return out;
}

napi_value tap_set_mac(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  rx_tap_t *t = tap_this_open(env, info, &argc, argv);
  if (t == NULL) return NULL;
  uint8_t *mac;
  size_t len;
  if (argc < 1 || tap_get_uint8_array(env, argv[0], &mac, &len) != 0 || len != 6)
    return tap_throw_code(env, "ERR_INVALID_ARG_VALUE", "mac must be a 6-byte Uint8Array");
  rx_tap_error_t e;
  if (rx_tap_set_mac(t->fd, mac, &e) != 0) return tap_throw_error(env, &e);
  return NULL;
}

/* What getMtu() and getFlags() share: an int read through the control socket, or a throw. */
typedef int (*tap_int_getter)(int fd, int ctl, int *out, rx_tap_error_t *e);

static napi_value get_int(napi_env env, napi_callback_info info, tap_int_getter get) {
  size_t argc = 0;
  rx_tap_t *t = tap_this_open(env, info, &argc, NULL);
  if (t == NULL) return NULL;
  int value;
  rx_tap_error_t e;
  if (get(t->fd, t->ctl, &value, &e) != 0) return tap_throw_error(env, &e);
  napi_value out;
  napi_create_int32(env, value, &out);
  return out;
}

napi_value tap_get_mtu(napi_env env, napi_callback_info info) {
  return get_int(env, info, rx_tap_get_mtu);
}

napi_value tap_set_mtu(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  rx_tap_t *t = tap_this_open(env, info, &argc, argv);
  if (t == NULL) return NULL;
  int32_t mtu;
  if (argc < 1 || napi_get_value_int32(env, argv[0], &mtu) != napi_ok)
    return tap_throw_code(env, "ERR_INVALID_ARG_TYPE", "mtu must be a number");
  rx_tap_error_t e;
  if (rx_tap_set_mtu(t->fd, t->ctl, mtu, &e) != 0) return tap_throw_error(env, &e);
  return NULL;
}

napi_value tap_get_flags(napi_env env, napi_callback_info info) {
  return get_int(env, info, rx_tap_get_flags);
}

napi_value tap_set_up(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  rx_tap_t *t = tap_this_open(env, info, &argc, argv);
  if (t == NULL) return NULL;
  bool up = false;
  if (argc < 1 || napi_get_value_bool(env, argv[0], &up) != napi_ok)
    return tap_throw_code(env, "ERR_INVALID_ARG_TYPE", "up must be a boolean");
  rx_tap_error_t e;
  if (rx_tap_set_up(t->fd, t->ctl, up, &e) != 0) return tap_throw_error(env, &e);
  return NULL;
}

napi_value tap_set_sndbuf(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  rx_tap_t *t = tap_this_open(env, info, &argc, argv);
  if (t == NULL) return NULL;
  int32_t bytes;
  if (argc < 1 || napi_get_value_int32(env, argv[0], &bytes) != napi_ok || bytes <= 0)
    return tap_throw_code(env, "ERR_INVALID_ARG_VALUE", "sndbuf must be a positive number");
  rx_tap_error_t e;
  if (rx_tap_set_sndbuf(t->fd, bytes, &e) != 0) return tap_throw_error(env, &e);
  return NULL;
}

/* setOffload(flags): TUNSETOFFLOAD (TUN_F_CSUM 1, TUN_F_TSO4 2, ...); only with vnetHdr. */
napi_value tap_set_offload(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  rx_tap_t *t = tap_this_open(env, info, &argc, argv);
  if (t == NULL) return NULL;
  uint32_t flags;
  if (argc < 1 || napi_get_value_uint32(env, argv[0], &flags) != napi_ok)
    return tap_throw_code(env, "ERR_INVALID_ARG_TYPE", "offload flags must be a number");
  if (!t->vnet && flags != 0) return tap_throw_code(env, "ERR_INVALID_STATE", "offloads need a handle opened with vnetHdr");
  rx_tap_error_t e;
  if (rx_tap_set_offload(t->fd, flags, &e) != 0) return tap_throw_error(env, &e);
  return NULL;
}

/*
 * holdWrites(bool): while true, writes queue as if the fd said EAGAIN; false lets the poll flush
 * the queue when the fd is writable. For tests: a TAP fd on Linux consumes each write at once
 * (the kernel processes the frame inside write()), so a real EAGAIN cannot be provoked on demand.
 */
napi_value tap_hold_writes(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  rx_tap_t *t = tap_this_open(env, info, &argc, argv);
  if (t == NULL) return NULL;
  bool hold = false;
  if (argc < 1 || napi_get_value_bool(env, argv[0], &hold) != napi_ok)
    return tap_throw_code(env, "ERR_INVALID_ARG_TYPE", "hold must be a boolean");
  t->hold_writes = hold;
  tap_update_poll(t);
  return NULL;
}

/*
 * poisonRecycled(byte): for tests, a recycled batch region is filled with `byte` (0-255) before
 * the next batch is read into it, so a view kept by mistake sees garbage at once; -1: off.
 */
napi_value tap_poison_recycled(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  rx_tap_t *t = tap_this_open(env, info, &argc, argv);
  if (t == NULL) return NULL;
  int32_t byte = -1;
  if (argc < 1 || napi_get_value_int32(env, argv[0], &byte) != napi_ok || byte < -1 || byte > 255)
    return tap_throw_code(env, "ERR_INVALID_ARG_VALUE", "poison must be an integer -1..255");
  t->poison = byte;
  return NULL;
}

