/* Calling JavaScript from the device's poll: one callback per delivery, the exchange scope, a fatal error. */
#include <errno.h>
#include <stdio.h>

#include "tap-handle.h"
#include "tap-napi.h"

/* ---------- calling JavaScript from the poll ---------- */


void tap_call_js(rx_tap_t *t, napi_ref fn_ref, size_t argc, napi_value *argv) {
  napi_env env = t->env;
  napi_value fn, recv;
  if (fn_ref == NULL || napi_get_reference_value(env, fn_ref, &fn) != napi_ok || fn == NULL) return;
  if (t->wrapper == NULL || napi_get_reference_value(env, t->wrapper, &recv) != napi_ok || recv == NULL)
    napi_get_undefined(env, &recv);
  t->in_callback++;
  /* make_callback runs nextTicks and microtasks afterwards, as for any Node I/O callback. Inside
   * a wake-up's exchange scope (tap_open_exchange_scope) a plain call: they run when it closes. */
  napi_status status = t->exchange_scope_open ? napi_call_function(env, recv, fn, argc, argv, NULL)
                                              : napi_make_callback(env, t->async_ctx, recv, fn, argc, argv, NULL);
  t->in_callback--;
  if (status == napi_pending_exception) {
    napi_value exception;
    napi_get_and_clear_last_exception(env, &exception);
    tap_close_exchange_scope(t); /* reported as from a callback of its own, the scope done */
    napi_fatal_exception(env, exception); /* 'uncaughtException', like a throwing listener */
  }
  if (t->release_pending && t->in_callback == 0) tap_release_js(t);
}

/* The frames a wake-up serves after its first exchange (tap_read_batch's re-reads: the peer's next
 * request, there as soon as our reply's write returned) are handed to JavaScript inside one
 * callback scope, one plain call each, instead of one napi_make_callback each: its entry and
 * exit (async context, the microtask and nextTick checkpoint) were a few percent of a
 * request/response transaction's CPU. Microtasks and nextTicks of those calls then run when the
 * scope closes: after the last of them, or at once when a call wrote no answer (an answer may
 * be waiting in a microtask), as the frames of one batch share one callback. */
int tap_open_exchange_scope(rx_tap_t *t) {
  if (t->exchange_scope_open) return 1;
  napi_value recv;
  if (t->async_ctx == NULL || t->wrapper == NULL || napi_get_reference_value(t->env, t->wrapper, &recv) != napi_ok || recv == NULL) return 0;
  if (napi_open_callback_scope(t->env, recv, t->async_ctx, &t->exchange_scope) != napi_ok) return 0;
  t->exchange_scope_open = 1;
  t->in_callback++; /* our async context is in use until the scope closes (tap_release_js waits) */
  return 1;
}

void tap_close_exchange_scope(rx_tap_t *t) {
  if (!t->exchange_scope_open) return;
  t->exchange_scope_open = 0;
  napi_close_callback_scope(t->env, t->exchange_scope); /* runs the microtasks and nextTicks */
  t->in_callback--;
  if (t->release_pending && t->in_callback == 0) tap_release_js(t);
}

/* A fatal device error: shut down first (so nothing more is emitted), then tell JavaScript. */
void tap_fail_device(rx_tap_t *t, int err, const char *syscall, const char *detail) {
  if (t->closed) return;
  napi_env env = t->env;
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  char gone[96];
  if (err == EBADFD) {
    /* What the tun driver answers once its device was deleted: report it as Node users know it. */
    snprintf(gone, sizeof gone, "TAP device %s was deleted (the queue fd reports EBADFD)", t->name);
    err = ENODEV;
    detail = gone;
  }
  napi_value error = tap_make_error(env, err, syscall, detail);
  napi_ref on_error = t->on_error;
  t->on_error = NULL;
  tap_shutdown(t);
  if (on_error != NULL) {
    tap_call_js(t, on_error, 1, &error);
    napi_delete_reference(env, on_error);
  }
  tap_release_js(t);
  napi_close_handle_scope(env, scope);
}
