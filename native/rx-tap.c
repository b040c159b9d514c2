/*
 * rx_tap: a TAP device for Node.js, as an N-API class (`TapHandle`).
 *
 * Receive: the queue fd is non-blocking and watched by a uv_poll. On each readable wake-up we
 * read every ready frame (one read() is one frame), up to `batchLimit` frames, straight into a
 * receive slab that JavaScript owns as an external ArrayBuffer (rx-slab.h), and call
 * JavaScript ONCE with the slab's ArrayBuffer; where the batch starts in it and how many frames
 * it holds are in a Uint32Array shared with JavaScript (`batch`), the frame lengths in another
 * (`lengths`), which JavaScript cuts into Uint8Array views. One native->JS transition per batch,
 * no object made on the native side per wake-up and no copy after the kernel's: the views are
 * made by JIT-compiled JavaScript, which is cheaper than creating typed arrays through N-API
 * calls. Slabs freed by the garbage collector are reused; a batch whose frames JavaScript
 * vouches it no longer looks at (BATCH_RECYCLE) has its memory taken by the next batch at once.
 *
 * Send: write() straight to the fd. On EAGAIN (the queue's socket send buffer is full) the
 * frame is copied into a bounded FIFO and the poll also waits for UV_WRITABLE; the FIFO is
 * flushed in order when the fd is writable. Beyond the bound, frames are dropped and counted.
 *
 * Lifetime: while open, the JS object is held by a strong reference (an open device is not
 * garbage collected, like a listening socket). close() stops the poll and closes both fds at
 * once; nothing is delivered after it. The C struct is freed when both the JS object has been
 * finalized and the uv handle has finished closing.
 *
 * This file is the class and the module; the reading, writing, waiting and the rest are in files
 * of their own, listed in tap-handle.h.
 */
#include <errno.h>
#include <node_api.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "datagram-socket.h"
#include "tcp-socket.h"
#include "socket-env.h"
#include "sched-slice.h"
#include "heap-pages.h"
#include "tap-handle.h"
#include "tap-napi.h"

/* Marks TapHandle objects, so rx_tap_flow_table can tell one from another class's object. */
const napi_type_tag TAP_TAG = { 0x72785f7461705f68ULL, 0x616e646c65763131ULL };

static bool get_bool_prop_or(napi_env env, napi_value obj, const char *key, bool fallback) {
  napi_value v;
  bool has = false, out = fallback;
  if (napi_has_named_property(env, obj, key, &has) != napi_ok || !has) return fallback;
  napi_get_named_property(env, obj, key, &v);
  if (napi_get_value_bool(env, v, &out) != napi_ok) return fallback;
  return out;
}

static bool get_bool_prop(napi_env env, napi_value obj, const char *key) {
  return get_bool_prop_or(env, obj, key, false);
}

static uint32_t get_uint_prop(napi_env env, napi_value obj, const char *key, uint32_t fallback) {
  napi_value v;
  napi_valuetype type;
  bool has = false;
  uint32_t out = fallback;
  if (napi_has_named_property(env, obj, key, &has) != napi_ok || !has) return fallback;
  napi_get_named_property(env, obj, key, &v);
  if (napi_typeof(env, v, &type) == napi_ok && type == napi_number) napi_get_value_uint32(env, v, &out);
  return out;
}

/* Makes `fn` bound to `t` as the handle's property `name` (see send_bound). */
static void add_bound_writer(napi_env env, napi_value self, rx_tap_t *t, const char *name, napi_callback fn) {
  napi_value f;
  if (napi_create_function(env, name, NAPI_AUTO_LENGTH, fn, t, &f) != napi_ok) return;
  if (napi_add_finalizer(env, f, t, tap_bound_writer_finalize, NULL, NULL) != napi_ok) return;
  t->bound_writers++;
  napi_set_named_property(env, self, name, f);
}

/* new TapHandle(name, netns | undefined, { batchLimit?, queueLimit?, vnetHdr?, tun?, busyPollUs?, uring? }):
 * `uring` (default true) writes a writeBatch's frames with io_uring, several per system call,
 * where the kernel allows it (tap-uring.h); false, or io_uring refused: one write each. */
static napi_value tap_new(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3], self, new_target;
  napi_get_cb_info(env, info, &argc, argv, &self, NULL);
  if (napi_get_new_target(env, info, &new_target) != napi_ok || new_target == NULL)
    return tap_throw_code(env, "ERR_CONSTRUCT_CALL_REQUIRED", "TapHandle must be called with new");
  char name[64], netns[256];
  int rc = argc >= 1 ? tap_get_string(env, argv[0], name, sizeof name) : -1;
  if (rc == -1) return tap_throw_code(env, "ERR_INVALID_ARG_TYPE", "name must be a string");
  if (rc == -2) name[IFNAMSIZ] = '\0'; /* surely too long: rx_tap_open rejects with EINVAL */
  const char *ns = NULL;
  napi_valuetype type = napi_undefined;
  if (argc >= 2) napi_typeof(env, argv[1], &type);
  if (type != napi_undefined && type != napi_null) {
    rc = tap_get_string(env, argv[1], netns, sizeof netns);
    if (rc == -1) return tap_throw_code(env, "ERR_INVALID_ARG_TYPE", "netns must be a string");
    if (rc == -2) return tap_throw_code(env, "ERR_INVALID_ARG_VALUE", "netns name too long");
    ns = netns;
  }
  uint32_t batch = RX_DEFAULT_BATCH, queue = RX_DEFAULT_QUEUE, busy_us = 0;
  bool vnet = false, tun = false, uring = true;
  if (argc >= 3) {
    napi_typeof(env, argv[2], &type);
    if (type == napi_object) {
      batch = get_uint_prop(env, argv[2], "batchLimit", RX_DEFAULT_BATCH);
      queue = get_uint_prop(env, argv[2], "queueLimit", RX_DEFAULT_QUEUE);
      vnet = get_bool_prop(env, argv[2], "vnetHdr");
      tun = get_bool_prop(env, argv[2], "tun");
      busy_us = get_uint_prop(env, argv[2], "busyPollUs", 0);
      uring = get_bool_prop_or(env, argv[2], "uring", true);
    }
  }
  if (batch < 1 || batch > RX_MAX_BATCH) return tap_throw_code(env, "ERR_OUT_OF_RANGE", "batchLimit must be 1..4096");
  if (busy_us > RX_MAX_BUSY_POLL_US) return tap_throw_code(env, "ERR_OUT_OF_RANGE", "busyPollUs must be 0..1000000");

  rx_tap_t *t = calloc(1, sizeof *t);
  if (t == NULL) return tap_throw_code(env, "ENOMEM", "out of memory");
  t->env = env;
  t->uring.ring = -1;
  t->fd = t->ctl = -1;
  t->poison = -1;
  if (napi_get_uv_event_loop(env, &t->loop) != napi_ok) {
    free(t);
    return tap_throw_code(env, "ERR_INTERNAL", "no event loop");
  }
  t->batch_limit = batch;
  t->busy_poll_ns = (uint64_t)busy_us * 1000;
  t->vnet = vnet;
  t->tun = tun;
  t->pool = rx_slab_pool_new(RX_SLAB_SIZE, RX_SLABS_KEPT, RX_SLABS_HIDDEN, RX_SLAB_HIDE_AGE, RX_SLAB_OWE_MAX);
  if (t->pool == NULL || rx_wq_init(&t->queue, queue) != 0) {
    if (t->pool != NULL) rx_slab_pool_close(t->pool);
    free(t);
    return tap_throw_code(env, "ENOMEM", "out of memory");
  }

  rx_tap_open_t opened;
  rx_tap_error_t e;
  if (rx_tap_open(name, ns, vnet, tun, &opened, &e) != 0) {
    rx_wq_free(&t->queue);
    rx_slab_pool_close(t->pool);
    free(t);
    return tap_throw_error(env, &e);
  }
  t->fd = opened.fd;
  t->ctl = opened.ctl;
  /* Decided once: where io_uring is disabled (the sysctl) or filtered (seccomp: ENOSYS, EPERM),
   * the ring stays -1 and every frame is written with write() as before. */
  if (uring) rx_uring_open(&t->uring, t->fd);
  t->existed = opened.existed;
  memcpy(t->name, opened.name, IFNAMSIZ);

  napi_value lengths_ab, lengths, resource_name;
  void *lengths_data;
  napi_create_arraybuffer(env, (size_t)batch * sizeof(uint32_t), &lengths_data, &lengths_ab);
  napi_create_typedarray(env, napi_uint32_array, batch, lengths_ab, 0, &lengths);
  t->lengths = lengths_data;
  napi_create_reference(env, lengths, 1, &t->lengths_ref);
  napi_set_named_property(env, self, "lengths", lengths);
  napi_value batch_ab, batch_info;
  void *batch_data;
  napi_create_arraybuffer(env, BATCH_SLOTS * sizeof(uint32_t), &batch_data, &batch_ab);
  napi_create_typedarray(env, napi_uint32_array, BATCH_SLOTS, batch_ab, 0, &batch_info);
  t->batch = batch_data;
  napi_create_reference(env, batch_info, 1, &t->batch_ref);
  napi_set_named_property(env, self, "batch", batch_info);
  napi_value time_ab, time_info;
  void *time_data;
  napi_create_arraybuffer(env, sizeof(double), &time_data, &time_ab);
  napi_create_typedarray(env, napi_float64_array, 1, time_ab, 0, &time_info);
  t->wake_time = time_data;
  napi_create_reference(env, time_info, 1, &t->wake_time_ref);
  napi_set_named_property(env, self, "wakeTime", time_info);
  add_bound_writer(env, self, t, "sendFrame", tap_send_frame);
  add_bound_writer(env, self, t, "sendWithHeader", tap_send_with_header);
  add_bound_writer(env, self, t, "sendSpan", tap_send_span);
  napi_value existed, vnet_value, tun_value;
  napi_get_boolean(env, t->existed, &existed);
  napi_set_named_property(env, self, "existed", existed);
  napi_get_boolean(env, t->vnet, &vnet_value);
  napi_set_named_property(env, self, "vnetHdr", vnet_value);
  napi_get_boolean(env, t->tun, &tun_value);
  napi_set_named_property(env, self, "tun", tun_value);

  napi_create_string_utf8(env, "rx_tap", NAPI_AUTO_LENGTH, &resource_name);
  napi_async_init(env, self, resource_name, &t->async_ctx);
  napi_wrap(env, self, t, tap_finalize, NULL, &t->wrapper);
  napi_type_tag_object(env, self, &TAP_TAG);
  uint32_t refs;
  napi_reference_ref(env, t->wrapper, &refs); /* strong while open */
  napi_add_async_cleanup_hook(env, tap_on_env_teardown, t, &t->cleanup);
  return self;
}

/* start(onFrames, onError): begin reading; replaces earlier callbacks. */
static napi_value tap_start(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  rx_tap_t *t = tap_this_open(env, info, &argc, argv);
  if (t == NULL) return NULL;
  napi_valuetype a = napi_undefined, b = napi_undefined;
  if (argc >= 2) {
    napi_typeof(env, argv[0], &a);
    napi_typeof(env, argv[1], &b);
  }
  if (a != napi_function || b != napi_function)
    return tap_throw_code(env, "ERR_INVALID_ARG_TYPE", "start(onFrames, onError) takes two functions");
  tap_delete_ref(env, &t->on_frames);
  tap_delete_ref(env, &t->on_error);
  napi_create_reference(env, argv[0], 1, &t->on_frames);
  napi_create_reference(env, argv[1], 1, &t->on_error);
  t->reading = 1;
  tap_update_poll(t);
  return NULL;
}

/* ownSleep(on): the wait after a wake-up in the handle's own hands (tap_sleep_here) or libuv's.
   Its busy-poll window is the open option busyPollUs: the second argument that once set it too
   (sessions 15-16) is refused, so a caller still passing it learns that its window is not set. */
static napi_value tap_own_sleep(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  rx_tap_t *t = tap_this_open(env, info, &argc, argv);
  if (t == NULL) return NULL;
  bool on = false;
  if (argc < 1 || napi_get_value_bool(env, argv[0], &on) != napi_ok) return tap_throw_type_code(env, "ERR_INVALID_ARG_TYPE", "ownSleep(on: boolean)");
  napi_valuetype second = napi_undefined;
  if (argc >= 2) napi_typeof(env, argv[1], &second);
  if (second != napi_undefined)
    return tap_throw_type_code(env, "ERR_INVALID_ARG_VALUE",
                               "ownSleep(on) takes no busy-poll argument: use the open option busyPollUs (TapDeviceOptions.busyPollUs)");
  t->own_sleep = on;
  /* A libuv window's idle handle would end the own wait at once (tap_arm_busy_poll). */
  if (on && t->idle_open && uv_is_active((uv_handle_t *)&t->idle)) uv_idle_stop(&t->idle);
  return NULL;
}

/* stop(): stop reading (frames wait in the kernel queue, which drops beyond its length). */
static napi_value tap_stop(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  rx_tap_t *t = tap_this(env, info, &argc, NULL);
  if (t == NULL || t->closed) return NULL;
  t->reading = 0;
  tap_update_poll(t);
  return NULL;
}

/*
 * drain(): reads and delivers what waits in the device now, as a wake-up would, and returns the
 * frames read. For a caller that knows the event loop was held up (a timer firing late: what
 * arrived meanwhile, such as the ACKs that cancel it, must be seen first, and the loop runs
 * timers before it polls). Nothing while reading is off or from inside a delivery (the batch's
 * memory is in use): 0.
 */
static napi_value tap_drain(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  rx_tap_t *t = tap_this(env, info, &argc, NULL);
  double before = t == NULL ? 0 : t->stats.rx_frames;
  if (t != NULL && !t->closed && t->reading && t->in_callback == 0) {
    /* A batch ends at its limit, or after one frame in the single-read rhythm: a few more rounds
     * take the rest; each round's last read found the device empty when fewer came. */
    for (int round = 0; round < 16 && !t->closed && t->reading && t->in_callback == 0; round++) {
      double was = t->stats.rx_frames;
      double empty = t->stats.rx_empty_reads;
      tap_read_batch(t);
      if (t->stats.rx_frames == was || t->stats.rx_empty_reads != empty) break;
    }
  }
  napi_value out;
  napi_create_double(env, t == NULL ? 0 : t->stats.rx_frames - before, &out);
  return out;
}

/* ref()/unref(): remembered for a poll started later, applied now to a running one. */
static napi_value set_unrefd(napi_env env, napi_callback_info info, int unrefd) {
  size_t argc = 0;
  rx_tap_t *t = tap_this(env, info, &argc, NULL);
  if (t == NULL) return NULL;
  t->unrefd = unrefd;
  if (t->poll_open && !t->closed) {
    if (unrefd) uv_unref((uv_handle_t *)&t->poll);
    else uv_ref((uv_handle_t *)&t->poll);
  }
  return NULL;
}

static napi_value tap_ref(napi_env env, napi_callback_info info) {
  return set_unrefd(env, info, 0);
}

static napi_value tap_unref(napi_env env, napi_callback_info info) {
  return set_unrefd(env, info, 1);
}

/* close(): idempotent; frames still queued for writing are dropped (and counted). */
static napi_value tap_close(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  rx_tap_t *t = tap_this(env, info, &argc, NULL);
  if (t == NULL || t->closed) return NULL;
  t->stats.tx_dropped += (double)t->queue.count;
  tap_shutdown(t);
  if (t->owed_at_close > 0) {
    int64_t ignored;
    napi_adjust_external_memory(env, t->owed_at_close, &ignored);
    t->owed_at_close = 0;
  }
  tap_release_js(t);
  return NULL;
}

static napi_value tap_closed(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  rx_tap_t *t = tap_this(env, info, &argc, NULL);
  if (t == NULL) return NULL;
  napi_value out;
  napi_get_boolean(env, t->closed, &out);
  return out;
}

/* errorFor(errno, syscall, detail): the same Error shape the handle throws, for tap-device.ts. */
static napi_value error_for(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t err = 0;
  char syscall[32] = "unknown", detail[208] = "";
  if (argc >= 1) napi_get_value_int32(env, argv[0], &err);
  if (argc >= 2) tap_get_string(env, argv[1], syscall, sizeof syscall);
  if (argc >= 3) tap_get_string(env, argv[2], detail, sizeof detail);
  return tap_make_error(env, err < 0 ? -err : err, syscall, detail);
}

/* externalMemory(): V8's count of external memory now (hidden slabs are not in it; tests). */
static napi_value external_memory(napi_env env, napi_callback_info info) {
  (void)info;
  int64_t now = 0;
  napi_value out;
  napi_adjust_external_memory(env, 0, &now);
  napi_create_double(env, (double)now, &out);
  return out;
}

/* monotonicNow(): CLOCK_MONOTONIC (uv_hrtime) in ms, the clock of the handles' `wakeTime`. */
static napi_value monotonic_now(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value out;
  napi_create_double(env, (double)uv_hrtime() / 1e6, &out);
  return out;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor methods[] = {
    { "name", NULL, NULL, tap_name, NULL, NULL, napi_default, NULL },
    { "closed", NULL, NULL, tap_closed, NULL, NULL, napi_default, NULL },
    { "rename", NULL, tap_rename, NULL, NULL, NULL, napi_default, NULL },
    { "getMac", NULL, tap_get_mac, NULL, NULL, NULL, napi_default, NULL },
    { "setMac", NULL, tap_set_mac, NULL, NULL, NULL, napi_default, NULL },
    { "getMtu", NULL, tap_get_mtu, NULL, NULL, NULL, napi_default, NULL },
    { "setMtu", NULL, tap_set_mtu, NULL, NULL, NULL, napi_default, NULL },
    { "getFlags", NULL, tap_get_flags, NULL, NULL, NULL, napi_default, NULL },
    { "setUp", NULL, tap_set_up, NULL, NULL, NULL, napi_default, NULL },
    { "setSndbuf", NULL, tap_set_sndbuf, NULL, NULL, NULL, napi_default, NULL },
    { "holdWrites", NULL, tap_hold_writes, NULL, NULL, NULL, napi_default, NULL },
    { "poisonRecycled", NULL, tap_poison_recycled, NULL, NULL, NULL, napi_default, NULL },
    { "setOffload", NULL, tap_set_offload, NULL, NULL, NULL, napi_default, NULL },
    { "start", NULL, tap_start, NULL, NULL, NULL, napi_default, NULL },
    { "stop", NULL, tap_stop, NULL, NULL, NULL, napi_default, NULL },
    { "ownSleep", NULL, tap_own_sleep, NULL, NULL, NULL, napi_default, NULL },
    { "drain", NULL, tap_drain, NULL, NULL, NULL, napi_default, NULL },
    { "write", NULL, tap_write, NULL, NULL, NULL, napi_default, NULL },
    { "writeBatch", NULL, tap_write_batch, NULL, NULL, NULL, napi_default, NULL },
    { "stats", NULL, tap_stats, NULL, NULL, NULL, napi_default, NULL },
    { "ref", NULL, tap_ref, NULL, NULL, NULL, napi_default, NULL },
    { "unref", NULL, tap_unref, NULL, NULL, NULL, napi_default, NULL },
    { "close", NULL, tap_close, NULL, NULL, NULL, napi_default, NULL },
  };
  napi_value cls, fn;
  napi_define_class(env, "TapHandle", NAPI_AUTO_LENGTH, tap_new, NULL,
                    sizeof methods / sizeof methods[0], methods, &cls);
  napi_set_named_property(env, exports, "TapHandle", cls);
  napi_create_function(env, "errorFor", NAPI_AUTO_LENGTH, error_for, NULL, &fn);
  napi_set_named_property(env, exports, "errorFor", fn);
  napi_create_function(env, "externalMemory", NAPI_AUTO_LENGTH, external_memory, NULL, &fn);
  napi_set_named_property(env, exports, "externalMemory", fn);
  napi_create_function(env, "monotonicNow", NAPI_AUTO_LENGTH, monotonic_now, NULL, &fn);
  napi_set_named_property(env, exports, "monotonicNow", fn);
  /* Per environment (the main thread, each worker thread): the host sockets' shared state. */
  if (rx_socket_env_init(env, exports) != 0) return NULL;
  rx_datagram_socket_init(env, exports);
  rx_tcp_socket_init(env, exports);
  rx_sched_slice_init(env, exports);
  rx_heap_pages_init(env, exports);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
