/* The TAP handle's N-API helpers (tap-napi.c) and the methods its class table takes from other files. */
#ifndef RX_TAP_NAPI_H
#define RX_TAP_NAPI_H

#include "tap-handle.h"

/* tap-napi.c: errors in Node's shape, and arguments */
napi_value tap_make_error(napi_env env, int err, const char *syscall, const char *detail);
napi_value tap_throw_error(napi_env env, const rx_tap_error_t *e);
napi_value tap_throw_code(napi_env env, const char *code, const char *msg);
/* The same as a TypeError (a wrong argument, as Node throws ERR_INVALID_ARG_TYPE / _VALUE). */
napi_value tap_throw_type_code(napi_env env, const char *code, const char *msg);
/* `this`'s handle (or NULL with an exception pending); _open: also throws ERR_LINK_CLOSED once closed. */
rx_tap_t *tap_this(napi_env env, napi_callback_info info, size_t *argc, napi_value *argv);
rx_tap_t *tap_this_open(napi_env env, napi_callback_info info, size_t *argc, napi_value *argv);
int tap_get_uint8_array(napi_env env, napi_value v, uint8_t **data, size_t *len);
int tap_get_string(napi_env env, napi_value v, char *buf, size_t size);

/* tap-send.c */
napi_value tap_write(napi_env env, napi_callback_info info);
napi_value tap_write_batch(napi_env env, napi_callback_info info);
napi_value tap_send_frame(napi_env env, napi_callback_info info);
napi_value tap_send_with_header(napi_env env, napi_callback_info info);
napi_value tap_send_span(napi_env env, napi_callback_info info);
void tap_bound_writer_finalize(napi_env env, void *data, void *hint);

/* tap-config.c */
napi_value tap_name(napi_env env, napi_callback_info info);
napi_value tap_rename(napi_env env, napi_callback_info info);
napi_value tap_get_mac(napi_env env, napi_callback_info info);
napi_value tap_set_mac(napi_env env, napi_callback_info info);
napi_value tap_get_mtu(napi_env env, napi_callback_info info);
napi_value tap_set_mtu(napi_env env, napi_callback_info info);
napi_value tap_get_flags(napi_env env, napi_callback_info info);
napi_value tap_set_up(napi_env env, napi_callback_info info);
napi_value tap_set_sndbuf(napi_env env, napi_callback_info info);
napi_value tap_set_offload(napi_env env, napi_callback_info info);
napi_value tap_hold_writes(napi_env env, napi_callback_info info);
napi_value tap_poison_recycled(napi_env env, napi_callback_info info);

/* tap-stats.c */
napi_value tap_stats(napi_env env, napi_callback_info info);

#endif
