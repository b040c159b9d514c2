#include <stdio.h>
#include "napi-this.h"

void *rx_unwrap_this(napi_env env, napi_callback_info info, size_t *argc, napi_value *argv, const char *class_name) {
  napi_value self;
  void *data = NULL;
  if (napi_get_cb_info(env, info, argc, argv, &self, NULL) != napi_ok) return NULL;
  if (napi_unwrap(env, self, &data) != napi_ok || data == NULL) {
    char msg[64];
    snprintf(msg, sizeof msg, "not a %s", class_name);
    napi_throw_error(env, "ERR_INVALID_THIS", msg);
    return NULL;
  }
  return data;
}
