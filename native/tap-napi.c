/* The TAP handle's N-API helpers: its errors (Node-style, with errno and syscall) and arguments. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "errno-name.h"
#include "napi-this.h"
#include "tap-handle.h"
#include "tap-napi.h"

/* ---------- errors ---------- */

napi_value tap_make_error(napi_env env, int err, const char *syscall, const char *detail) {
  const char *name = rx_errno_name(err);
  char code_buf[24];
  if (name == NULL) {
    snprintf(code_buf, sizeof code_buf, "E%d", err);
    name = code_buf;
  }
  char msg[320];
  snprintf(msg, sizeof msg, "%s %s: %s (%s)", syscall, name, detail, strerror(err));
  napi_value code, message, error, errno_value, syscall_value;
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &message);
  napi_create_error(env, code, message, &error);
  napi_set_named_property(env, error, "code", code);
  napi_create_int32(env, -err, &errno_value);
  napi_set_named_property(env, error, "errno", errno_value);
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &syscall_value);
  napi_set_named_property(env, error, "syscall", syscall_value);
  return error;
}

napi_value tap_throw_error(napi_env env, const rx_tap_error_t *e) {
  napi_throw(env, tap_make_error(env, e->err, e->syscall, e->detail));
  return NULL;
}

napi_value tap_throw_code(napi_env env, const char *code, const char *msg) {
  napi_throw_error(env, code, msg);
  return NULL;
}

napi_value tap_throw_type_code(napi_env env, const char *code, const char *msg) {
  napi_throw_type_error(env, code, msg);
  return NULL;
}

/* ---------- N-API plumbing ---------- */

rx_tap_t *tap_this(napi_env env, napi_callback_info info, size_t *argc, napi_value *argv) {
  return rx_unwrap_this(env, info, argc, argv, "TapHandle");
}

rx_tap_t *tap_this_open(napi_env env, napi_callback_info info, size_t *argc, napi_value *argv) {
  rx_tap_t *t = tap_this(env, info, argc, argv);
  if (t != NULL && t->closed) {
    tap_throw_code(env, "ERR_LINK_CLOSED", "TAP device is closed");
    return NULL;
  }
  return t;
}

/* A Uint8Array's bytes, in one N-API call: napi_get_typedarray_info itself refuses (napi_invalid_arg,
 * no exception) what is not a typed array, so no napi_is_typedarray first. */
int tap_get_uint8_array(napi_env env, napi_value v, uint8_t **data, size_t *len) {
  napi_typedarray_type type;
  void *ptr;
  if (napi_get_typedarray_info(env, v, &type, len, &ptr, NULL, NULL) != napi_ok || type != napi_uint8_array) return -1;
  *data = ptr;
  return 0;
}

int tap_get_string(napi_env env, napi_value v, char *buf, size_t size) {
  size_t len;
  napi_valuetype type;
  if (napi_typeof(env, v, &type) != napi_ok || type != napi_string) return -1;
  if (napi_get_value_string_utf8(env, v, buf, size, &len) != napi_ok) return -1;
  return len + 1 >= size ? -2 : 0; /* -2: too long for the buffer */
}
