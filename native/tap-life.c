/* The TAP handle's lifetime: closing its device, letting go of JavaScript, freeing it (rx-tap.c says when). */
#include <stdlib.h>
#include <unistd.h>

#include "tap-handle.h"
#include "tap-napi.h"

/* ---------- lifetime ---------- */

void tap_maybe_free(rx_tap_t *t) {
  if (t->finalized && t->bound_writers == 0 && !t->poll_open && !t->idle_open) free(t);
}

static void remove_cleanup_hook(rx_tap_t *t) {
  if (t->cleanup != NULL) {
    napi_remove_async_cleanup_hook(t->cleanup);
    t->cleanup = NULL;
  }
}

static void on_poll_closed(uv_handle_t *h) {
  rx_tap_t *t = h->data;
  t->poll_open = 0;
  if (!t->idle_open) remove_cleanup_hook(t);
  tap_maybe_free(t);
}

static void on_idle_closed(uv_handle_t *h) {
  rx_tap_t *t = h->data;
  t->idle_open = 0;
  if (!t->poll_open) remove_cleanup_hook(t);
  tap_maybe_free(t);
}

/* Releases the OS resources; no JavaScript is touched, so it is safe at environment teardown. */
void tap_shutdown(rx_tap_t *t) {
  if (t->closed) return;
  t->closed = 1;
  t->reading = 0;
  if (t->poll_open) {
    uv_poll_stop(&t->poll);
    uv_close((uv_handle_t *)&t->poll, on_poll_closed);
  }
  if (t->idle_open) {
    uv_idle_stop(&t->idle);
    uv_close((uv_handle_t *)&t->idle, on_idle_closed);
  }
  if (t->fd >= 0) close(t->fd);
  if (t->ctl >= 0) close(t->ctl);
  t->fd = t->ctl = -1;
  t->poison = -1;
  rx_wq_free(&t->queue);
  rx_uring_close(&t->uring);
  if (t->flows_open) {
    rx_flow_table_clear(&t->flows); /* the flows' sockets go the JavaScript way */
    t->flows_open = 0;
  }
  if (t->pool != NULL) {
    /* The current slab stays alive through cur_ref (released with the other JS references).
     * What the pool owes V8's count is given back by tap_close (JavaScript may not run here). */
    t->owed_at_close += rx_slab_pool_close(t->pool);
    t->pool = NULL;
  }
  if (!t->poll_open && !t->idle_open) remove_cleanup_hook(t);
}

void tap_delete_ref(napi_env env, napi_ref *ref) {
  if (*ref != NULL) {
    napi_delete_reference(env, *ref);
    *ref = NULL;
  }
}

/* Drops what keeps JavaScript objects alive; after this the wrapper may be collected. */
void tap_release_js(rx_tap_t *t) {
  napi_env env = t->env;
  if (t->in_callback > 0) {
    /* Not while napi_make_callback is using our async context: tap_call_js finishes the job. */
    t->release_pending = 1;
    return;
  }
  t->release_pending = 0;
  tap_delete_ref(env, &t->cur_ref);
  t->cur = NULL;
  tap_delete_ref(env, &t->on_frames);
  tap_delete_ref(env, &t->on_error);
  if (t->async_ctx != NULL) {
    napi_async_destroy(env, t->async_ctx);
    t->async_ctx = NULL;
  }
  uint32_t count = 0;
  if (t->wrapper != NULL) napi_reference_unref(env, t->wrapper, &count);
}

void tap_on_env_teardown(napi_async_cleanup_hook_handle handle, void *arg) {
  rx_tap_t *t = arg;
  (void)handle;
  tap_shutdown(t); /* removes the hook now, or from on_poll_closed */
}

void tap_finalize(napi_env env, void *data, void *hint) {
  rx_tap_t *t = data;
  (void)hint;
  tap_delete_ref(env, &t->lengths_ref);
  tap_delete_ref(env, &t->batch_ref);
  tap_delete_ref(env, &t->wake_time_ref);
  tap_delete_ref(env, &t->wrapper);
  tap_shutdown(t);
  t->finalized = 1;
  tap_maybe_free(t);
}
