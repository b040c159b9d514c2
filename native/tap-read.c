/* The TAP handle's reading: receive slabs, the delivery of a batch, and the read loop of a wake-up. */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "tap-handle.h"
#include "tap-napi.h"

/* The garbage collector freed a slab's ArrayBuffer: nothing in JavaScript sees it any more. */
static void slab_finalize(napi_env env, void *data, void *hint) {
  (void)data;
  int64_t ignored;
  /* A hidden slab's bytes were taken out of V8's count when it was made, and V8 has just taken
   * them out again as its ArrayBuffer died: the pool owes them to the count and gives back
   * what it owes in large sums (rx-slab.h says why not here and now). */
  int64_t repay = rx_slab_give_back(hint);
  if (repay > 0) napi_adjust_external_memory(env, repay, &ignored);
}

/* Makes sure the current slab has room for one more read of the largest size. */
static int ensure_slab(rx_tap_t *t) {
  if (t->cur != NULL && t->cur->size - t->cur_off >= RX_MAX_READ) return 0;
  napi_env env = t->env;
  /* Retire the full one: the views JavaScript holds keep it alive until collected. */
  tap_delete_ref(env, &t->cur_ref);
  t->cur = NULL;
  rx_slab_t *slab = rx_slab_take(t->pool);
  if (slab == NULL) return -1;
  napi_value ab;
  if (napi_create_external_arraybuffer(env, slab->data, slab->size, slab_finalize, slab, &ab) != napi_ok) {
    rx_slab_give_back(slab);
    return -1;
  }
  napi_create_reference(env, ab, 1, &t->cur_ref);
  /* V8 has just counted the new slab as external memory (rx-slab.h): hidden slabs that lived
   * too long to be young are counted again, and the new one is hidden if the budget allows. */
  int64_t ignored;
  rx_slab_t *aged;
  while ((aged = rx_slab_unhide_aged(t->pool)) != NULL) napi_adjust_external_memory(env, (int64_t)aged->size, &ignored);
  if (rx_slab_hide(slab)) napi_adjust_external_memory(env, -(int64_t)slab->size, &ignored);
  t->cur = slab;
  t->cur_off = 0;
  return 0;
}

/* Calls onFrames(slab): the batch's place in the slab and its frame count are in the shared
 * `batch` array, the frame lengths in `lengths`; JavaScript makes the views. No typed array and
 * no number is created here: per wake-up, only the callback's own entry into V8. */
static void deliver(rx_tap_t *t, size_t total, uint32_t count, int cut) {
  napi_env env = t->env;
  napi_value ab;
  t->batch[0] = (uint32_t)t->cur_off;
  t->batch[1] = count;
  t->batch[BATCH_ANSWERED] = 0;
  t->batch[BATCH_RECYCLE] = 0;
  /* The batch's time, read once here rather than by JavaScript (a call into the runtime and
   * Node's receiver check per batch): the stack's clock takes it as its reading for the whole
   * batch (streams/stack/unref-scheduler.ts). uv_hrtime is CLOCK_MONOTONIC, the clock behind
   * performance.now() and process.hrtime(), so JavaScript converts it by a constant. */
  t->wake_time[0] = (double)uv_hrtime() / 1e6;
  size_t start = t->cur_off;
  rx_slab_t *slab = t->cur;
  /* Keep the next batch 64-byte aligned (word access in the checksum, cache lines). */
  t->cur_off += (total + 63) & ~(size_t)63;
  if (napi_get_reference_value(env, t->cur_ref, &ab) != napi_ok || ab == NULL) return;
  t->stats.rx_batches++;
  tap_call_js(t, t->on_frames, 1, &ab);
  /* Read after the callback (and the microtasks run at its end): JavaScript vouched that no
   * view of this batch is looked at again. Only this batch's region is reused: earlier batches
   * of the slab may still be referenced. */
  if (t->batch[BATCH_RECYCLE] != 0 && !t->closed && t->cur == slab) {
    t->batch[BATCH_RECYCLE] = 0;
    if (t->poison >= 0) memset(slab->data + start, t->poison, t->cur_off - start);
    if (cut && start != 0) {
      /* No room for a whole batch from `start` (BATCH_RECYCLE says why): the next batch goes to
       * a fresh slab (ensure_slab), whose start later batches reuse. */
      t->cur_off = slab->size;
      t->stats.rx_slab_moves++;
    } else {
      t->cur_off = start;
      t->stats.rx_slab_reuses++;
    }
  }
}

/* One run of reads into the current slab, from its free offset (ensure_slab done). */
typedef struct {
  size_t off;   /* bytes read for JavaScript */
  uint32_t n;   /* frames read for JavaScript (lengths in t->lengths) */
  int err;      /* a read's errno other than EAGAIN; 0: none */
  int drained;  /* the run ended on EAGAIN */
} rx_reads_t;

/* Reads up to `limit` frames (an offloaded UDP flow's datagrams relayed, not counted in `n`). */
static rx_reads_t read_frames(rx_tap_t *t, uint32_t limit) {
  rx_reads_t rd = { 0, 0, 0, 0 };
  uint8_t *base = t->cur->data + t->cur_off;
  size_t room = t->cur->size - t->cur_off;
  uint32_t relayed = 0;
  while (rd.n < limit && room - rd.off >= RX_MAX_READ) {
    ssize_t r = read(t->fd, base + rd.off, RX_MAX_READ);
    if (r < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) rd.err = errno;
      else {
        rd.drained = 1;
        t->stats.rx_empty_reads++;
      }
      break;
    }
    if (r == 0) break;
    /* An offloaded UDP flow's datagram is relayed there and then (udp-flow.h); its buffer space
       is read into again. Bounded like a batch; a frame relayed counts as one read. */
    if (t->flows_open && t->flows.count != 0 && rx_flow_input(&t->flows, base + rd.off, (size_t)r)) {
      t->stats.rx_frames++;
      t->stats.rx_bytes += (double)r;
      t->stats.rx_flow_frames++;
      if (++relayed >= t->batch_limit || t->closed) break;
      continue;
    }
    t->lengths[rd.n++] = (uint32_t)r;
    rd.off += (size_t)r;
    t->stats.rx_frames++;
    t->stats.rx_bytes += (double)r;
  }
  return rd;
}

/* Delivers a run's frames (`room`: the slab's room when it began) with the busy-poll window's
 * bookkeeping. Cut short: the run ended for want of room for another read (frames may still wait). */
static void hand_over(rx_tap_t *t, const rx_reads_t *rd, uint32_t limit, size_t room) {
  if (t->busy_poll_ns != 0 && uv_hrtime() < t->busy_until) t->stats.busy_poll_hits++;
  deliver(t, rd->off, rd->n, rd->err == 0 && !rd->drained && rd->n < limit && room - rd->off < RX_MAX_READ);
  if (t->busy_poll_ns != 0 && !t->closed && t->reading) tap_arm_busy_poll(t);
}

/* One small frame that drew one small answer: written to the device since `before` (tx_frames,
 * tx_bytes, tx_queued_total), nothing queued, or answered elsewhere (BATCH_ANSWERED). */
static int small_exchange(const rx_tap_t *t, uint32_t n, size_t off, uint32_t most, const double before[3]) {
  int answered = t->batch[BATCH_ANSWERED] != 0;
  return n >= 1 && n <= most && off <= (size_t)n * RX_SINGLE_MAX_BYTES && (t->stats.tx_frames > before[0] || answered) &&
         t->stats.tx_bytes - before[1] <= RX_SINGLE_MAX_BYTES && t->stats.tx_queued_total == before[2];
}

/*
 * The probe of the one-read rule (RX_SINGLE_PROBE_EVERY), made after the wake-up's frame was
 * handed over and answered: a batch read to EAGAIN. Made before the delivery, as it once was, its
 * read (EAGAIN, when nothing else waits) sat between the request and our answer, in the peer's
 * round trip, one spaced exchange in eight (docs/history/session-17.md "Session 17: the own
 * wait's and the read path's loose ends"). What it decides is the same: nothing waiting, the
 * pattern holds; a backlog (read and handed over here as one batch) ends the single reads. Made
 * after our answer, it may also find what that answer drew from a peer sharing our CPU, as the
 * re-read after an answer does, and judges it by the re-read's rule: one small frame that drew a
 * small answer or nothing (the peer's next request, or its ACK of our answer made inside our
 * write), or two that drew a small answer (TCP_CRR's ACK and next request: a pair read's
 * shape), keep the pattern; more frames, a large one or a large or queued answer end it. Returns
 * whether the probe's frames drew an answer written to the device (the re-reads after an answer
 * go on from it); a read's failure in `err`.
 */
static int probe_after(rx_tap_t *t, int *err) {
  if (t->closed || !t->reading || ensure_slab(t) != 0) return 0; /* the next wake-up meets a failure */
  t->stats.rx_probes++;
  size_t room = t->cur->size - t->cur_off;
  double before[3] = { t->stats.tx_frames, t->stats.tx_bytes, t->stats.tx_queued_total };
  rx_reads_t rd = read_frames(t, t->batch_limit);
  *err = rd.err;
  if (rd.n == 0) {
    if (!rd.drained) t->single_streak = 0;
    return 0;
  }
  t->stats.rx_probe_hits++;
  /* Handed over in the wake-up's exchange scope, as a re-read's frame is (tap_call_js). */
  tap_open_exchange_scope(t);
  hand_over(t, &rd, t->batch_limit, room);
  if (t->exchange_scope_open && !(t->stats.tx_frames > before[0])) tap_close_exchange_scope(t);
  int exchange = small_exchange(t, rd.n, rd.off, 2, before);
  int silent = rd.n == 1 && rd.off <= RX_SINGLE_MAX_BYTES && t->stats.tx_frames == before[0] &&
               t->stats.tx_queued_total == before[2];
  t->single_streak = rd.drained && (exchange || silent) ? t->single_streak + 1 : 0;
  return rd.err == 0 && exchange && t->stats.tx_frames > before[0];
}

void tap_read_batch(rx_tap_t *t) {
  napi_handle_scope scope;
  napi_open_handle_scope(t->env, &scope);
  if (ensure_slab(t) != 0) {
    napi_close_handle_scope(t->env, scope);
    tap_fail_device(t, ENOMEM, "read", "allocating a receive slab");
    return;
  }
  size_t room = t->cur->size - t->cur_off;
  int single = t->single_streak >= RX_SINGLE_AFTER && t->single_reads < RX_SINGLE_PROBE_EVERY - 1;
  /* The probe's turn: read as the single reads do, and probe for more after the callback. */
  int probe = t->single_streak >= RX_SINGLE_AFTER && !single;
  int carry = t->deferred; /* the last wake-up left its ACK for this one */
  t->deferred = 0;
  /* Pair reads are on (RX_PAIR_MISSES): the frames waiting now are such a pair too, the peer's
   * ACK and its next frame, and are read as one exchange like a deferral's. */
  int pairing = t->silent_rereads >= RX_DEFER_AFTER && t->pair_misses < RX_PAIR_MISSES &&
                !(t->flows_open && t->flows.count != 0);
  int extra = carry || pairing;
  uint32_t limit = single || probe ? 1 + (uint32_t)extra : t->batch_limit;
  rx_reads_t rd = read_frames(t, limit);
  size_t off = rd.off;
  uint32_t n = rd.n;
  int err = rd.err, drained = rd.drained;
  /* What JavaScript wrote while it handled this batch: a small answer, written at once? */
  double frames_before = t->stats.tx_frames, bytes_before = t->stats.tx_bytes, queued_before = t->stats.tx_queued_total;
  if (n > 0) hand_over(t, &rd, limit, room);
  /* Read before anything else can run: the array lives as long as the handle's wrapper, which
   * nothing can collect while this C frame runs. */
  int answered = n > 0 && t->batch[BATCH_ANSWERED] != 0;
  double before[3] = { frames_before, bytes_before, queued_before };
  int exchange = n > 0 && small_exchange(t, n, off, 1 + (uint32_t)extra, before);
  /* The frame left here came alone and drew nothing: re-reading it would have saved this wake-up. */
  int lone = carry && n == 1 && drained && off <= RX_SINGLE_MAX_BYTES && !answered &&
             t->stats.tx_frames == frames_before && t->stats.tx_queued_total == queued_before;
  if (lone) t->lone_share += (65536u - t->lone_share) >> 4;
  else if (carry && n > 0) t->lone_share -= t->lone_share >> 4;
  /* One frame that drew an answer: no frame had been left here (the peer's ACK rides on its
   * next request, as under TCP_RR): re-read again. */
  if (carry && n == 1 && exchange) t->silent_rereads = 0;
  /* A pair's first frame already taken (a re-read's pair that missed): as a pair read that missed. */
  else if (pairing && single && n == 1 && drained) {
    t->stats.rx_pair_misses++;
    t->pair_misses++;
  } else if (pairing && n == 2 && exchange) {
    t->stats.rx_pair_reads++;
    t->pair_misses = 0;
  }
  /* Our answer went out through the device: the next request may be there already. */
  int wrote = exchange && t->stats.tx_frames > frames_before;
  if (single) {
    t->single_reads++;
    if (n > 0 && !exchange && !lone) t->single_streak = 0;
  } else if (probe && n > 0 && !drained && err == 0) {
    t->single_reads = 0;
    if (!exchange) t->single_streak = 0; /* the frame drew nothing: the next wake-up reads a batch */
    else wrote = probe_after(t, &err);
  } else {
    t->single_reads = 0;
    if (!lone) t->single_streak = drained && exchange ? t->single_streak + 1 : 0;
  }
  for (unsigned turns = 1; wrote && err == 0 && turns < RX_EXCHANGES_PER_WAKE && !t->closed && t->reading; turns++) {
    /* No pair reads beside offloaded UDP flows: their datagrams are relayed frame by frame. */
    int pair = t->silent_rereads >= RX_DEFER_AFTER && !(t->flows_open && t->flows.count != 0) &&
               (t->pair_misses < RX_PAIR_MISSES || ++t->pair_skips % RX_PAIR_PROBE_EVERY == 0);
    if (!pair && t->silent_rereads >= RX_DEFER_AFTER &&
        (t->lone_share < RX_DEFER_LONE_MAX || ++t->defer_samples % RX_DEFER_SAMPLE_EVERY == 0)) {
      t->deferred = 1;
      t->stats.rx_rereads_deferred++;
      break;
    }
    if (t->reread_misses >= RX_REREAD_MISSES && ++t->reread_skips % RX_REREAD_PROBE_EVERY != 0) break;
    if (ensure_slab(t) != 0) break; /* the next wake-up meets the failure */
    uint8_t *base = t->cur->data + t->cur_off;
    ssize_t r;
    do r = read(t->fd, base, RX_MAX_READ);
    while (r < 0 && errno == EINTR);
    if (r <= 0) {
      if (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK) err = errno;
      else if (r < 0) {
        t->stats.rx_reread_misses++;
        t->reread_misses++;
      }
      break;
    }
    t->reread_misses = 0;
    t->reread_skips = 0;
    /* An offloaded flow's datagram, relayed here as in the loop above (the exchanges go on). */
    if (t->flows_open && t->flows.count != 0 && rx_flow_input(&t->flows, base, (size_t)r)) {
      t->stats.rx_frames++;
      t->stats.rx_bytes += (double)r;
      t->stats.rx_flow_frames++;
      continue;
    }
    t->lengths[0] = (uint32_t)r;
    t->stats.rx_frames++;
    t->stats.rx_bytes += (double)r;
    t->stats.rx_rereads++;
    /* The pair's second frame, behind the first in the slab as in a batch. */
    size_t got = (size_t)r;
    uint32_t count = 1;
    if (pair && (size_t)r <= RX_SINGLE_MAX_BYTES && t->cur->size - t->cur_off - (size_t)r >= RX_MAX_READ) {
      ssize_t r2;
      do r2 = read(t->fd, base + r, RX_MAX_READ);
      while (r2 < 0 && errno == EINTR);
      if (r2 > 0) {
        t->lengths[1] = (uint32_t)r2;
        got += (size_t)r2;
        count = 2;
        t->stats.rx_frames++;
        t->stats.rx_bytes += (double)r2;
        t->stats.rx_pair_reads++;
        t->pair_misses = 0;
        t->pair_skips = 0;
      } else if (r2 < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
        err = errno; /* the first frame is still delivered; the failure ends the loop below */
      } else if (r2 < 0) {
        t->stats.rx_pair_misses++;
        t->pair_misses++;
      }
    }
    frames_before = t->stats.tx_frames;
    bytes_before = t->stats.tx_bytes;
    queued_before = t->stats.tx_queued_total;
    tap_open_exchange_scope(t);
    deliver(t, got, count, 0);
    /* No answer written: one may wait in a microtask, which runs when the scope closes, as it
     * ran at the end of a delivery of its own. */
    if (t->exchange_scope_open && !(t->stats.tx_frames > frames_before)) tap_close_exchange_scope(t);
    answered = t->batch[BATCH_ANSWERED] != 0;
    wrote = err == 0 && got <= count * RX_SINGLE_MAX_BYTES && t->stats.tx_frames > frames_before &&
            t->stats.tx_bytes - bytes_before <= RX_SINGLE_MAX_BYTES && t->stats.tx_queued_total == queued_before;
    /* A large frame, or a write that was large or had to wait, ends the one-read rule, as in a
     * wake-up of its own. A small frame that drew nothing does not: it is the peer's ACK of our
     * answer, which its kernel made inside our write (TCP_CRR: the ACK of the SYN-ACK, of the
     * reply, of our FIN), the exchange's own tail rather than frames queueing up; the next
     * wake-up's one read still judges what comes next. */
    int small = got <= count * RX_SINGLE_MAX_BYTES;
    int silent = t->stats.tx_frames == frames_before && t->stats.tx_queued_total == queued_before;
    if (!wrote && !(small && (answered || silent))) t->single_streak = 0;
    /* A pair's answer is its second frame's: its first, the ACK, drew nothing, as the silent
     * re-reads that led to the pair read; the pair reads go on. */
    if (count == 1) t->silent_rereads = small && silent && !answered ? t->silent_rereads + 1 : 0;
  }
  tap_close_exchange_scope(t);
  napi_close_handle_scope(t->env, scope);
  if (err != 0 && !t->closed) tap_fail_device(t, err, "read", "reading a frame");
}
