/* The TAP handle's stats(): its counters as one object. */
#include "socket-env.h"
#include "tap-handle.h"
#include "tap-napi.h"

static void set_number(napi_env env, napi_value obj, const char *key, double value) {
  napi_value v;
  napi_create_double(env, value, &v);
  napi_set_named_property(env, obj, key, v);
}

napi_value tap_stats(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  rx_tap_t *t = tap_this(env, info, &argc, NULL);
  if (t == NULL) return NULL;
  napi_value out;
  napi_create_object(env, &out);
  set_number(env, out, "rxFrames", t->stats.rx_frames);
  set_number(env, out, "rxBytes", t->stats.rx_bytes);
  set_number(env, out, "rxBatches", t->stats.rx_batches);
  set_number(env, out, "txFrames", t->stats.tx_frames);
  set_number(env, out, "txBytes", t->stats.tx_bytes);
  set_number(env, out, "txQueued", (double)t->queue.count);
  set_number(env, out, "txQueuedTotal", t->stats.tx_queued_total);
  set_number(env, out, "txDropped", t->stats.tx_dropped);
  set_number(env, out, "txErrors", t->stats.tx_errors);
  set_number(env, out, "busyPollHits", t->stats.busy_poll_hits);
  set_number(env, out, "ownSleeps", t->stats.own_sleeps);
  set_number(env, out, "ownSleepExits", t->stats.own_sleep_exits);
  set_number(env, out, "ownBusyHits", t->stats.own_busy_hits);
  set_number(env, out, "ownSetWakes", t->stats.own_set_wakes);
  set_number(env, out, "ownHotWakes", t->stats.own_hot_wakes);
  {
    rx_socket_env_t *e = rx_socket_env(env);
    set_number(env, out, "hostDirectDispatches", e != NULL ? e->direct_dispatches : 0);
  }
  set_number(env, out, "rxEmptyReads", t->stats.rx_empty_reads);
  set_number(env, out, "rxProbes", t->stats.rx_probes);
  set_number(env, out, "rxProbeHits", t->stats.rx_probe_hits);
  set_number(env, out, "rxRereads", t->stats.rx_rereads);
  set_number(env, out, "rxRereadMisses", t->stats.rx_reread_misses);
  set_number(env, out, "rxRereadsDeferred", t->stats.rx_rereads_deferred);
  set_number(env, out, "rxPairReads", t->stats.rx_pair_reads);
  set_number(env, out, "rxPairMisses", t->stats.rx_pair_misses);
  set_number(env, out, "rxSlabReuses", t->stats.rx_slab_reuses);
  set_number(env, out, "rxSlabMoves", t->stats.rx_slab_moves);
  set_number(env, out, "rxFlowFrames", t->stats.rx_flow_frames);
  set_number(env, out, "txUring", t->uring.ring >= 0 ? 1 : 0);
  set_number(env, out, "txSubmits", t->stats.tx_submits);
  set_number(env, out, "txUringFrames", t->stats.tx_uring_frames);
  set_number(env, out, "txReordered", t->stats.tx_reordered);
  set_number(env, out, "rxSlabs", t->pool != NULL ? rx_slab_pool_live(t->pool) : 0);
  set_number(env, out, "rxSlabsHidden", t->pool != NULL ? rx_slab_pool_hidden(t->pool) : 0);
  set_number(env, out, "rxSlabBytesOwed", t->pool != NULL ? (double)rx_slab_pool_owed(t->pool) : 0);
  return out;
}

