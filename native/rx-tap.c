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
 */
#ifndef NAPI_VERSION
#define NAPI_VERSION 8
#endif
#include <errno.h>
#include <node_api.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/uio.h>
#include <unistd.h>
#include <uv.h>

#include "errno-name.h"
#include "datagram-socket.h"
#include "tcp-socket.h"
#include "socket-env.h"
#include "rx-slab.h"
#include "tap-sys.h"
#include "write-queue.h"
#include "napi-this.h"
#include "udp-flow.h"
#include "sched-slice.h"
#include "tap-uring.h"
#include "host-poll.h"

/* Largest frame a TAP device hands us: 65535 MTU (or a 64 KiB GSO frame) + Ethernet + 802.1Q. */
#define RX_MAX_FRAME 65556
/* The virtio_net_hdr in front of every read and write with IFF_VNET_HDR (without MRG_RXBUF). */
#define RX_VNET_HDR_LEN 10
#define RX_MAX_READ (RX_MAX_FRAME + RX_VNET_HDR_LEN)
/* Most pieces of one gathered frame (writev). */
#define RX_MAX_PARTS 64
/* Pieces of the frames gathered for one io_uring submission (tx_chunk_t): room for a full
 * chunk of frames of three pieces (a header, a TCP segment's headers, its payload), or fewer
 * frames of more. */
#define RX_CHUNK_IOV (RX_URING_ENTRIES * 4)
/* Receive slabs: 2 MiB (several batches of ordinary frames, 30 GSO frames), 4 kept for reuse.
 * Hidden from V8's external memory count (rx-slab.h): at most 32 (64 MiB, V8's step between
 * full collections for external memory), each for at most the next 64 slabs taken (128 MiB
 * received; a slab whose frames are all dropped dies in the first minor collection). The bytes
 * of dead hidden slabs are given back to V8's count in sums of 1 GiB (rx-slab.h says why). */
#define RX_SLAB_SIZE (2u << 20)
#define RX_SLABS_KEPT 4
#define RX_SLABS_HIDDEN 32
#define RX_SLAB_HIDE_AGE 64
#ifndef RX_SLAB_OWE_MAX
#define RX_SLAB_OWE_MAX ((int64_t)1 << 30)
#endif
#define RX_DEFAULT_BATCH 256
/* One read per wake-up under request/response: after this many wake-ups in a row that each
 * found one small frame (a batch ended by EAGAIN) and wrote a small answer before returning,
 * a wake-up reads one frame and skips the read that would end in EAGAIN (the poll is
 * level-triggered: a frame left waiting wakes us again at once). A wake-up that does not look
 * like that ends it: a frame that draws no write (an ACK, a handshake's last step: often one
 * of several arriving together), a large frame either way (bulk data, whose frames queue up
 * behind each other), a write that had to wait. Every RX_SINGLE_PROBE_EVERY-th wake-up reads a
 * whole batch, so a backlog is read in batches again within that many wake-ups. A frame answered
 * other than by a write to this device (a NAT handing a datagram to a host socket, whose reply
 * comes back through that socket) counts as answered when JavaScript says so during the wake-up:
 * it sets the shared `batch` array's third slot (BATCH_ANSWERED), which no call into the addon
 * costs. */
#define RX_SINGLE_AFTER 4
/* "Small": a request or a response, not bulk data (frame bytes, virtio_net_hdr included). */
#define RX_SINGLE_MAX_BYTES 512
#define RX_SINGLE_PROBE_EVERY 8
/* The slot of the shared `batch` array that JavaScript sets to say this wake-up's frame was
 * answered elsewhere (TapDevice.answeredElsewhere); cleared before each delivery. */
#define BATCH_ANSWERED 2
/* After a wake-up's one small frame drew a small answer written to this device, the peer that
 * shares our CPU ran on the way out of that write (the scheduler switches to the reader it woke)
 * and has often written its next request before we get the CPU back: the device is read again
 * at once, and such a frame is served in the same wake-up (no poll, no second entry into
 * JavaScript's event loop), up to RX_EXCHANGES_PER_WAKE frames. After RX_REREAD_MISSES such
 * reads in a row found nothing (the peer on another CPU, or slower), only every
 * RX_REREAD_PROBE_EVERY-th chance is taken. */
#define RX_EXCHANGES_PER_WAKE 16
#define RX_REREAD_MISSES 4
#define RX_REREAD_PROBE_EVERY 16
/* A re-read whose frame draws nothing is the peer's ACK of our answer, made by its kernel inside
 * our write (TCP_CRR: of the SYN-ACK, the reply, our FIN). When the peer shares our CPU it has
 * mostly sent its next frame by our next system call, so reading the ACK apart costs a delivery
 * to JavaScript that reading it with that frame would not. After RX_DEFER_AFTER such re-reads in
 * a row the ACK is left for the next wake-up, which may then read one frame more than the one-
 * read rule allows. Where the peer is slower that wake-up finds the ACK alone (a wake-up more
 * than re-reading it would have cost): a running share of such outcomes (of 65536, each outcome
 * weighing 1/16) stops the deferral above RX_DEFER_LONE_MAX; then only every
 * RX_DEFER_SAMPLE_EVERY-th chance defers, to notice a change back. */
#define RX_DEFER_AFTER 4
#define RX_DEFER_LONE_MAX 16384u
#define RX_DEFER_SAMPLE_EVERY 32
/* Where a deferral would be chosen, the re-read first tries to take the ACK and the frame behind
 * it together (a pair read): the peer sharing our CPU ran on the way out of our write and has
 * mostly queued both by then (TCP_CRR: [ACK of the SYN-ACK, request], [ACK of the reply, FIN],
 * [SYN, ACK of our FIN]), so both go to JavaScript in one delivery and the wake-up goes on
 * serving, instead of leaving them for a poll and a turn of the event loop. A second read that
 * finds nothing costs a read; after RX_PAIR_MISSES of those in a row (the peer on another CPU,
 * or slower) the deferral above is used again, a pair read tried at every
 * RX_PAIR_PROBE_EVERY-th chance to notice a change back. */
#define RX_PAIR_MISSES 4
#define RX_PAIR_PROBE_EVERY 16
/* The slot JavaScript sets, during a delivery, to say that nothing will look at this batch's
 * frames once the callback returns (TapDevice.recycleBatch: the link's frame lease found every
 * frame consumed by a path that keeps no view). The next batch is then read into the same slab
 * memory, from this batch's start, while it is still in the CPU's cache: the kernel's copy into
 * it is the largest cost of bulk receiving. Cleared before each delivery; anything else
 * (JavaScript threw, the device closed) leaves the region to the garbage collector as before.
 * No ArrayBuffer is made or dropped by a reuse, so V8's external memory count is unchanged.
 * Except when the batch was cut short by the slab's end (it ended for want of room for another
 * read, not on EAGAIN or the batch limit) and did not start at the slab's beginning: reused in
 * place, its region would cut every later batch just as short, for good (a region with room for
 * one 64 KiB read gives batches of one frame, each ending in its own ACK: the "ACK per frame"
 * regime of bulk to the stack in docs/benchmarks.md). The slab is then retired instead
 * (rx_slab_moves) and the next batch starts a fresh one, where it has all the room. */
#define BATCH_RECYCLE 3
#define BATCH_SLOTS 4
#define RX_MAX_BATCH 4096
#define RX_DEFAULT_QUEUE 1024
/* Longest busy-poll window after a batch: 1 s (a larger one is surely a unit mistake). */
#define RX_MAX_BUSY_POLL_US 1000000u

/* write() results, shared with tap-device.ts. Negative values are -errno. */
#define RX_WRITE_SENT 0
#define RX_WRITE_QUEUED 1
#define RX_WRITE_DROPPED 2

typedef struct {
  double rx_frames, rx_bytes, rx_batches;
  double tx_frames, tx_bytes, tx_queued_total, tx_dropped, tx_errors;
  double busy_poll_hits; /* batches read while a busy-poll window was open */
  double own_sleeps;      /* poll(2) calls of the own sleep that waited and returned an event (sleep_here) */
  double own_sleep_exits; /* own sleeps ended for libuv (its fd, a timer, an immediate, too many sockets) */
  double own_busy_hits;   /* own sleeps whose event came during the busy poll (no sleep) */
  double rx_empty_reads; /* reads that found no frame (EAGAIN), the end of a batch */
  double rx_rereads;     /* frames read in the wake-up of the exchange before (RX_EXCHANGES_PER_WAKE) */
  double rx_reread_misses; /* such reads that found nothing (not counted in rx_empty_reads) */
  double rx_rereads_deferred; /* such reads not made, their frame left for the next wake-up (RX_DEFER_AFTER) */
  double rx_pair_reads;    /* pairs read as one exchange, by a re-read or a wake-up's first reads (RX_PAIR_MISSES) */
  double rx_pair_misses;   /* pair reads whose second frame was not there */
  double rx_slab_reuses; /* batches whose slab region the next batch was read into (BATCH_RECYCLE) */
  double rx_slab_moves;  /* recycled batches cut short by the slab's end: the next one took a fresh slab */
  double rx_flow_frames; /* frames relayed by the UDP flow table (udp-flow.h), not handed to JavaScript */
  double tx_submits;     /* io_uring_enter calls that wrote several frames (tap-uring.h) */
  double tx_uring_frames; /* frames those calls carried */
  double tx_reordered;   /* frames written by io_uring after an earlier one of the same call had to wait */
} rx_stats_t;

/* The frames of one writeBatch gathered for one io_uring submission. */
typedef struct {
  rx_uring_frame_t frames[RX_URING_ENTRIES];
  size_t lens[RX_URING_ENTRIES]; /* frame bytes, virtio_net_hdr not counted (as tx_bytes) */
  int32_t res[RX_URING_ENTRIES];
  struct iovec iov[RX_CHUNK_IOV];
  unsigned count, used;           /* frames, and pieces of iov taken */
} tx_chunk_t;

typedef struct rx_tap {
  napi_env env;
  napi_ref wrapper;          /* the JS object; strong while open, weak after close */
  napi_ref on_frames;        /* (slab: ArrayBuffer) => void, the batch described by `batch` */
  napi_ref on_error;         /* (error) => void */
  napi_ref lengths_ref;      /* Uint32Array shared with JS */
  uint32_t *lengths;
  napi_ref batch_ref;        /* Uint32Array shared with JS: [batch offset in the slab, frame count, answered elsewhere] */
  uint32_t *batch;
  napi_ref wake_time_ref;    /* Float64Array shared with JS: [CLOCK_MONOTONIC in ms when the batch was handed over] */
  double *wake_time;
  napi_async_context async_ctx;
  napi_async_cleanup_hook_handle cleanup;
  uv_loop_t *loop;
  int in_callback;           /* depth of JS calls in progress from the poll */
  int release_pending;       /* close() ran inside a callback: release JS state after it */
  napi_callback_scope exchange_scope; /* open while a wake-up's further exchanges are served (see call_js) */
  int exchange_scope_open;

  int fd, ctl;
  char name[IFNAMSIZ];
  int existed;
  int vnet;                  /* IFF_VNET_HDR: reads and writes carry a virtio_net_hdr */
  int tun;                   /* IFF_TUN: bare IP packets instead of Ethernet frames */

  uv_poll_t poll;
  int poll_open;             /* uv_poll_init done and its close callback not yet run */
  int reading;
  int hold_writes;           /* test switch: queue every write as if the fd said EAGAIN */
  int poison;                /* test switch: -1, or the byte a recycled region is filled with before reuse */
  int unrefd;
  int closed;
  int finalized;
  int bound_writers;         /* writer functions (sendFrame, sendWithHeader) not yet collected: their data is `t` */

  rx_slab_pool_t *pool;
  int64_t owed_at_close;     /* what the closed pool owed V8's count, for tap_close to give back */
  rx_slab_t *cur;            /* the slab being filled */
  napi_ref cur_ref;          /* its ArrayBuffer, held until the slab is retired */
  size_t cur_off;            /* first free byte in it */
  unsigned batch_limit;
  unsigned single_streak;    /* wake-ups in a row that were one small exchange (see RX_SINGLE_AFTER) */
  unsigned single_reads;     /* wake-ups served by one read since the last whole batch */
  unsigned reread_misses;    /* reads right after an exchange in a row that found nothing */
  unsigned reread_skips;     /* chances of such a read not taken since they kept missing */
  unsigned silent_rereads;   /* re-reads in a row whose frame drew nothing (see RX_DEFER_AFTER) */
  int deferred;              /* the last wake-up left such a frame for this one */
  unsigned lone_share;       /* of 65536: wake-ups after a deferral that found the frame alone */
  unsigned defer_samples;    /* chances to defer while lone_share is high */
  unsigned pair_misses;      /* pair reads in a row whose second read found nothing (RX_PAIR_MISSES) */
  unsigned pair_skips;       /* chances of a pair read not taken since they kept missing */

  /* Busy polling (opt-in): after each batch an idle handle keeps the event loop from sleeping
   * for busy_poll_ns, so the next frame is picked up by a non-blocking poll instead of a wake-up
   * from sleep. Unref'd: it never keeps the process alive on its own. */
  uv_idle_t idle;
  int idle_open;             /* uv_idle_init done and its close callback not yet run */
  uint64_t busy_poll_ns;     /* 0: off */
  uint64_t busy_until;       /* uv_hrtime() at which the current window closes */
  rx_write_queue_t queue;
  rx_stats_t stats;
  /* The nat's offloaded UDP flows (udp-flow.h), on a TUN device: opened by the first flow. */
  rx_flow_table_t flows;
  int flows_open;
  /* Several frames of one writeBatch in one system call (tap-uring.h); ring -1: plain writes,
   * decided at open (the option, or io_uring refused). */
  rx_uring_t uring;
  tx_chunk_t chunk;
  /* ownSleep (see sleep_here): the wait between wake-ups made here, with poll(2), instead of libuv's. */
  int own_sleep;
  uint64_t own_busy_ns; /* ownSleep's busy poll: non-blocking polls for this long before it sleeps (0: off) */
} rx_tap_t;

/* Marks TapHandle objects, so rx_tap_flow_table can tell one from another class's object. */
static const napi_type_tag TAP_TAG = { 0x72785f7461705f68ULL, 0x616e646c65763131ULL };

/* ---------- errors ---------- */

static napi_value make_error(napi_env env, int err, const char *syscall, const char *detail) {
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

static napi_value throw_tap_error(napi_env env, const rx_tap_error_t *e) {
  napi_throw(env, make_error(env, e->err, e->syscall, e->detail));
  return NULL;
}

static napi_value throw_code(napi_env env, const char *code, const char *msg) {
  napi_throw_error(env, code, msg);
  return NULL;
}

/* ---------- lifetime ---------- */

static void maybe_free(rx_tap_t *t) {
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
  maybe_free(t);
}

static void on_idle_closed(uv_handle_t *h) {
  rx_tap_t *t = h->data;
  t->idle_open = 0;
  if (!t->poll_open) remove_cleanup_hook(t);
  maybe_free(t);
}

/* Releases the OS resources; no JavaScript is touched, so it is safe at environment teardown. */
static void shutdown_device(rx_tap_t *t) {
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

static void delete_ref(napi_env env, napi_ref *ref) {
  if (*ref != NULL) {
    napi_delete_reference(env, *ref);
    *ref = NULL;
  }
}

/* Drops what keeps JavaScript objects alive; after this the wrapper may be collected. */
static void release_js(rx_tap_t *t) {
  napi_env env = t->env;
  if (t->in_callback > 0) {
    /* Not while napi_make_callback is using our async context: call_js finishes the job. */
    t->release_pending = 1;
    return;
  }
  t->release_pending = 0;
  delete_ref(env, &t->cur_ref);
  t->cur = NULL;
  delete_ref(env, &t->on_frames);
  delete_ref(env, &t->on_error);
  if (t->async_ctx != NULL) {
    napi_async_destroy(env, t->async_ctx);
    t->async_ctx = NULL;
  }
  uint32_t count = 0;
  if (t->wrapper != NULL) napi_reference_unref(env, t->wrapper, &count);
}

static void on_env_teardown(napi_async_cleanup_hook_handle handle, void *arg) {
  rx_tap_t *t = arg;
  (void)handle;
  shutdown_device(t); /* removes the hook now, or from on_poll_closed */
}

static void finalize(napi_env env, void *data, void *hint) {
  rx_tap_t *t = data;
  (void)hint;
  delete_ref(env, &t->lengths_ref);
  delete_ref(env, &t->batch_ref);
  delete_ref(env, &t->wake_time_ref);
  delete_ref(env, &t->wrapper);
  shutdown_device(t);
  t->finalized = 1;
  maybe_free(t);
}

/* ---------- calling JavaScript from the poll ---------- */

static void close_exchange_scope(rx_tap_t *t);

static void call_js(rx_tap_t *t, napi_ref fn_ref, size_t argc, napi_value *argv) {
  napi_env env = t->env;
  napi_value fn, recv;
  if (fn_ref == NULL || napi_get_reference_value(env, fn_ref, &fn) != napi_ok || fn == NULL) return;
  if (t->wrapper == NULL || napi_get_reference_value(env, t->wrapper, &recv) != napi_ok || recv == NULL)
    napi_get_undefined(env, &recv);
  t->in_callback++;
  /* make_callback runs nextTicks and microtasks afterwards, as for any Node I/O callback. Inside
   * a wake-up's exchange scope (open_exchange_scope) a plain call: they run when it closes. */
  napi_status status = t->exchange_scope_open ? napi_call_function(env, recv, fn, argc, argv, NULL)
                                              : napi_make_callback(env, t->async_ctx, recv, fn, argc, argv, NULL);
  t->in_callback--;
  if (status == napi_pending_exception) {
    napi_value exception;
    napi_get_and_clear_last_exception(env, &exception);
    close_exchange_scope(t); /* reported as from a callback of its own, the scope done */
    napi_fatal_exception(env, exception); /* 'uncaughtException', like a throwing listener */
  }
  if (t->release_pending && t->in_callback == 0) release_js(t);
}

/* The frames a wake-up serves after its first exchange (read_batch's re-reads: the peer's next
 * request, there as soon as our reply's write returned) are handed to JavaScript inside one
 * callback scope, one plain call each, instead of one napi_make_callback each: its entry and
 * exit (async context, the microtask and nextTick checkpoint) were a few percent of a
 * request/response transaction's CPU. Microtasks and nextTicks of those calls then run when the
 * scope closes: after the last of them, or at once when a call wrote no answer (an answer may
 * be waiting in a microtask), as the frames of one batch share one callback. */
static int open_exchange_scope(rx_tap_t *t) {
  if (t->exchange_scope_open) return 1;
  napi_value recv;
  if (t->async_ctx == NULL || t->wrapper == NULL || napi_get_reference_value(t->env, t->wrapper, &recv) != napi_ok || recv == NULL) return 0;
  if (napi_open_callback_scope(t->env, recv, t->async_ctx, &t->exchange_scope) != napi_ok) return 0;
  t->exchange_scope_open = 1;
  t->in_callback++; /* our async context is in use until the scope closes (release_js waits) */
  return 1;
}

static void close_exchange_scope(rx_tap_t *t) {
  if (!t->exchange_scope_open) return;
  t->exchange_scope_open = 0;
  napi_close_callback_scope(t->env, t->exchange_scope); /* runs the microtasks and nextTicks */
  t->in_callback--;
  if (t->release_pending && t->in_callback == 0) release_js(t);
}

/* A fatal device error: shut down first (so nothing more is emitted), then tell JavaScript. */
static void fail_device(rx_tap_t *t, int err, const char *syscall, const char *detail) {
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
  napi_value error = make_error(env, err, syscall, detail);
  napi_ref on_error = t->on_error;
  t->on_error = NULL;
  shutdown_device(t);
  if (on_error != NULL) {
    call_js(t, on_error, 1, &error);
    napi_delete_reference(env, on_error);
  }
  release_js(t);
  napi_close_handle_scope(env, scope);
}

/* ---------- the poll ---------- */

static void on_poll(uv_poll_t *h, int status, int events);

static void update_poll(rx_tap_t *t) {
  if (t->closed) return;
  int events = (t->reading ? UV_READABLE : 0) | (t->queue.count > 0 && !t->hold_writes ? UV_WRITABLE : 0);
  if (!t->poll_open) {
    if (events == 0) return;
    if (uv_poll_init(t->loop, &t->poll, t->fd) != 0) return;
    t->poll.data = t;
    t->poll_open = 1;
    if (t->unrefd) uv_unref((uv_handle_t *)&t->poll);
  }
  if (events == 0) uv_poll_stop(&t->poll);
  else uv_poll_start(&t->poll, events, on_poll);
}

static int is_fatal(int err) {
  /* EBADFD: the device was deleted under us; the others mean the fd itself is unusable. */
  return err == EBADFD || err == EBADF || err == ENODEV || err == ENXIO;
}

static int is_transient(int err) {
  return err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS || err == ENOMEM;
}

static const uint8_t zero_vnet_hdr[RX_VNET_HDR_LEN];

static void flush_queue(rx_tap_t *t) {
  while (!t->closed && !t->hold_writes && t->queue.count > 0) {
    rx_frame_t *f = rx_wq_front(&t->queue);
    ssize_t r;
    do r = write(t->fd, f->data, f->len);
    while (r < 0 && errno == EINTR);
    if (r < 0 && is_transient(errno)) break;
    if (r < 0 && is_fatal(errno)) {
      fail_device(t, errno, "write", "writing a queued frame");
      return;
    }
    if (r < 0) t->stats.tx_errors++;
    else {
      t->stats.tx_frames++;
      t->stats.tx_bytes += (double)f->len;
    }
    rx_wq_pop(&t->queue);
  }
  update_poll(t);
}

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
  delete_ref(env, &t->cur_ref);
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
  call_js(t, t->on_frames, 1, &ab);
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

/* ---------- busy polling ---------- */

static void on_idle(uv_idle_t *h) {
  rx_tap_t *t = h->data;
  /* Nothing to do here: an active idle handle makes the loop's poll phase non-blocking. */
  if (t->closed || !t->reading || uv_hrtime() >= t->busy_until) uv_idle_stop(h);
}

/* Opens (or extends) the busy-poll window after a batch. */
static void arm_busy_poll(rx_tap_t *t) {
  t->busy_until = uv_hrtime() + t->busy_poll_ns;
  if (!t->idle_open) {
    if (uv_idle_init(t->loop, &t->idle) != 0) return;
    t->idle.data = t;
    t->idle_open = 1;
    uv_unref((uv_handle_t *)&t->idle);
  }
  if (!uv_is_active((uv_handle_t *)&t->idle)) uv_idle_start(&t->idle, on_idle);
}

static void read_batch(rx_tap_t *t) {
  napi_handle_scope scope;
  napi_open_handle_scope(t->env, &scope);
  if (ensure_slab(t) != 0) {
    napi_close_handle_scope(t->env, scope);
    fail_device(t, ENOMEM, "read", "allocating a receive slab");
    return;
  }
  uint8_t *base = t->cur->data + t->cur_off;
  size_t room = t->cur->size - t->cur_off;
  size_t off = 0;
  uint32_t n = 0;
  int err = 0, drained = 0;
  int single = t->single_streak >= RX_SINGLE_AFTER && t->single_reads < RX_SINGLE_PROBE_EVERY - 1;
  int carry = t->deferred; /* the last wake-up left its ACK for this one */
  t->deferred = 0;
  /* Pair reads are on (RX_PAIR_MISSES): the frames waiting now are such a pair too, the peer's
   * ACK and its next frame, and are read as one exchange like a deferral's. */
  int pairing = t->silent_rereads >= RX_DEFER_AFTER && t->pair_misses < RX_PAIR_MISSES &&
                !(t->flows_open && t->flows.count != 0);
  int extra = carry || pairing;
  uint32_t limit = single ? 1 + (uint32_t)extra : t->batch_limit, relayed = 0;
  while (n < limit && room - off >= RX_MAX_READ) {
    ssize_t r = read(t->fd, base + off, RX_MAX_READ);
    if (r < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) err = errno;
      else {
        drained = 1;
        t->stats.rx_empty_reads++;
      }
      break;
    }
    if (r == 0) break;
    /* An offloaded UDP flow's datagram is relayed there and then (udp-flow.h); its buffer space
       is read into again. Bounded like a batch; a frame relayed counts as one read. */
    if (t->flows_open && t->flows.count != 0 && rx_flow_input(&t->flows, base + off, (size_t)r)) {
      t->stats.rx_frames++;
      t->stats.rx_bytes += (double)r;
      t->stats.rx_flow_frames++;
      if (++relayed >= t->batch_limit || t->closed) break;
      continue;
    }
    t->lengths[n++] = (uint32_t)r;
    off += (size_t)r;
    t->stats.rx_frames++;
    t->stats.rx_bytes += (double)r;
  }
  /* What JavaScript wrote while it handled this batch: a small answer, written at once? */
  double frames_before = t->stats.tx_frames, bytes_before = t->stats.tx_bytes, queued_before = t->stats.tx_queued_total;
  if (n > 0) {
    if (t->idle_open && uv_is_active((uv_handle_t *)&t->idle)) t->stats.busy_poll_hits++;
    /* Cut short: the loop ended for want of room for another read (frames may still wait). */
    deliver(t, off, n, err == 0 && !drained && n < limit && room - off < RX_MAX_READ);
    if (t->busy_poll_ns != 0 && !t->closed && t->reading) arm_busy_poll(t);
  }
  /* Read before anything else can run: the array lives as long as the handle's wrapper, which
   * nothing can collect while this C frame runs. */
  int answered = n > 0 && t->batch[BATCH_ANSWERED] != 0;
  int exchange = n >= 1 && n <= 1 + (uint32_t)extra && off <= (size_t)n * RX_SINGLE_MAX_BYTES &&
                 (t->stats.tx_frames > frames_before || answered) &&
                 t->stats.tx_bytes - bytes_before <= RX_SINGLE_MAX_BYTES && t->stats.tx_queued_total == queued_before;
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
  if (single) {
    t->single_reads++;
    if (n > 0 && !exchange && !lone) t->single_streak = 0;
  } else {
    t->single_reads = 0;
    if (!lone) t->single_streak = drained && exchange ? t->single_streak + 1 : 0;
  }
  /* Our answer went out through the device: the next request may be there already. */
  int wrote = exchange && t->stats.tx_frames > frames_before;
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
    base = t->cur->data + t->cur_off;
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
    open_exchange_scope(t);
    deliver(t, got, count, 0);
    /* No answer written: one may wait in a microtask, which runs when the scope closes, as it
     * ran at the end of a delivery of its own. */
    if (t->exchange_scope_open && !(t->stats.tx_frames > frames_before)) close_exchange_scope(t);
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
  close_exchange_scope(t);
  napi_close_handle_scope(t->env, scope);
  if (err != 0 && !t->closed) fail_device(t, err, "read", "reading a frame");
}

/* ---------- the sleep in the handle's own hands (ownSleep) ---------- */

/* Wake-ups served by one sleep_here before libuv's loop gets its turn anyway. */
#define RX_OWN_SLEEP_TURNS 4096
/* Host sockets polled by their own fds at most; with more, the sleep is libuv's. */
#define RX_OWN_SLEEP_SOCKETS 8

/*
 * After a wake-up's frames, the wait for the next frame or a host socket's event, here with
 * poll(2) instead of in libuv's epoll_wait. What it saves is CPU per wake-up: libuv's poll
 * without a timeout before each sleep (Node runs its loop with idle-time metrics), the nested
 * epoll_wait of the host sockets' set, and a turn of the loop's other phases; an unpinned nat
 * TCP_RR exchange makes 6.2 system calls instead of 9.2 and costs about 0.95 of the CPU
 * (docs/benchmarks.md, Session 15). It was first meant to get poll(2)'s synchronous wake-ups
 * and with them the waker's CPU; measured, it does not: this kernel packs a wakee onto its
 * waker's CPU by how long the wakee runs, not by the kind of wake-up. The device's fd, each
 * host socket's own fd (host-poll.h rx_host_poll_fds; not the sockets' epoll set) and libuv's
 * backend fd (uv_backend_fd, public) are polled until libuv's next timer (uv_backend_timeout
 * after uv_update_time, public). A frame or a socket's event is served here and the wait
 * repeats; anything of libuv's (its backend fd readable with neither of ours, a timer due, an
 * idle handle or a pending callback: uv_backend_timeout 0), more than RX_OWN_SLEEP_SOCKETS
 * sockets, a write queue, or ownSleep(false) ends it, and libuv's loop runs as usual. Only from
 * the poll's callback, with no JavaScript on the stack: each delivery runs its own callback scope
 * (its microtasks and nextTicks) as from the loop. Not made by libuv, the wait counts as busy
 * time in performance.eventLoopUtilization().
 */
static void sleep_here(rx_tap_t *t) {
  rx_socket_env_t *e = rx_socket_env(t->env);
  struct pollfd fds[2 + RX_OWN_SLEEP_SOCKETS];
  uint64_t keys[RX_OWN_SLEEP_SOCKETS];
  int backend = uv_backend_fd(t->loop);
  for (unsigned turn = 0; turn < RX_OWN_SLEEP_TURNS; turn++) {
    if (t->closed || !t->reading || !t->own_sleep || t->queue.count > 0 || t->exchange_scope_open) return;
    int nhost = e != NULL ? rx_host_poll_fds(e, fds + 2, keys, RX_OWN_SLEEP_SOCKETS) : 0;
    if (nhost < 0) nhost = e != NULL && e->poll_open == 1 ? -1 : 0;
    if (nhost < 0) {
      t->stats.own_sleep_exits++;
      return;
    }
    uv_update_time(t->loop);
    int timeout = uv_backend_timeout(t->loop);
    if (timeout == 0) {
      t->stats.own_sleep_exits++;
      return;
    }
    fds[0].fd = t->fd;
    fds[0].events = POLLIN;
    fds[0].revents = 0;
    fds[1].fd = backend;
    fds[1].events = POLLIN;
    fds[1].revents = 0;
    int n = 0;
    if (t->own_busy_ns != 0) {
      /* The busy poll (opt-in): the peer's next frame or answer is often a few tens of
       * microseconds away, less than a sleep and a wake-up on another CPU cost. */
      uint64_t until = uv_hrtime() + t->own_busy_ns;
      do n = poll(fds, (nfds_t)(2 + nhost), 0);
      while ((n == 0 || (n < 0 && errno == EINTR)) && uv_hrtime() < until);
      if (n > 0) t->stats.own_busy_hits++;
    }
    if (n <= 0) {
      do n = poll(fds, (nfds_t)(2 + nhost), timeout);
      while (n < 0 && errno == EINTR);
    }
    if (n <= 0) { /* libuv's timer is due (or the wait failed: libuv's poll as usual) */
      t->stats.own_sleep_exits++;
      return;
    }
    int ours = (fds[0].revents != 0);
    for (int i = 0; i < nhost; i++) ours |= fds[2 + i].revents != 0;
    if (!ours) { /* libuv's own */
      t->stats.own_sleep_exits++;
      return;
    }
    t->stats.own_sleeps++;
    for (int i = 0; i < nhost && !t->closed; i++)
      if (fds[2 + i].revents != 0) rx_host_poll_ready(e, keys[i], fds[2 + i].revents);
    if (t->closed) return;
    if (fds[0].revents & (POLLERR | POLLHUP | POLLNVAL)) return; /* on_poll reports it from libuv's poll */
    if ((fds[0].revents & POLLIN) && t->reading) read_batch(t);
  }
  t->stats.own_sleep_exits++;
}

static void on_poll(uv_poll_t *h, int status, int events) {
  rx_tap_t *t = h->data;
  if (t->closed) return;
  if (status < 0) {
    /* libuv turns EPOLLERR into UV_EBADF; a read tells the real cause (EBADFD: device deleted).
     * The tun driver raises EPOLLERR only once its device is gone, so a read that still finds a
     * frame or nothing (the deletion racing with the queue's purge) means the same: ENODEV. */
    uint8_t probe[64];
    ssize_t r = read(t->fd, probe, sizeof probe);
    if (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK) fail_device(t, errno, "read", "reading a frame");
    else if (status == UV_EBADF) fail_device(t, EBADFD, "poll", "watching the TAP fd");
    else fail_device(t, -status, "poll", "watching the TAP fd");
    return;
  }
  if (events & UV_WRITABLE) flush_queue(t);
  if (!t->closed && t->reading && (events & UV_READABLE)) {
    read_batch(t);
    if (t->own_sleep) sleep_here(t);
  }
}

/* ---------- writing ---------- */

/* A frame the device cannot take now: a copy waits in the queue (or is dropped beyond its bound). */
static int queue_frame(rx_tap_t *t, const struct iovec *iov, int n) {
  if (rx_wq_push_iov(&t->queue, iov, n) != 0) {
    t->stats.tx_dropped++;
    return RX_WRITE_DROPPED;
  }
  t->stats.tx_queued_total++;
  if (t->queue.count == 1) update_poll(t);
  return RX_WRITE_QUEUED;
}

/* A write that failed for good: counted, and -errno for the caller. */
static int write_failed(rx_tap_t *t, int err) {
  t->stats.tx_errors++;
  return -(err == EBADFD ? ENODEV : err); /* EBADFD: the device was deleted */
}

/* Writes one frame gathered from `n` pieces (one writev: the TAP device takes a frame per call). */
static int write_iov(rx_tap_t *t, const struct iovec *iov, int n) {
  size_t len = 0;
  for (int i = 0; i < n; i++) len += iov[i].iov_len;
  if (t->vnet) len -= RX_VNET_HDR_LEN; /* count frame bytes only */
  if (t->queue.count == 0 && !t->hold_writes) {
    ssize_t r;
    do r = n == 1 ? write(t->fd, iov[0].iov_base, iov[0].iov_len) : writev(t->fd, iov, n);
    while (r < 0 && errno == EINTR);
    if (r >= 0) {
      t->stats.tx_frames++;
      t->stats.tx_bytes += (double)len;
      return RX_WRITE_SENT;
    }
    if (!is_transient(errno)) return write_failed(t, errno);
  }
  return queue_frame(t, iov, n);
}

/* A plain Ethernet frame; with IFF_VNET_HDR an all-zero header (no offload) goes in front. */
static int write_one(rx_tap_t *t, const uint8_t *data, size_t len) {
  struct iovec iov[2];
  int n = 0;
  if (t->vnet) iov[n++] = (struct iovec){ (void *)zero_vnet_hdr, RX_VNET_HDR_LEN };
  iov[n++] = (struct iovec){ (void *)data, len };
  return write_iov(t, iov, n);
}

/* ---------- several frames per system call (tap-uring.h) ---------- */

/* Room in the chunk for a frame of `parts` pieces, behind an all-zero virtio_net_hdr when
 * `bare` (as write_one puts one in front of a plain frame with vnetHdr). Writes the chunk first
 * when it is full (false: the batch stopped there). */
static bool chunk_room(rx_tap_t *t, uint32_t parts, int bare, int32_t *accepted, struct iovec **iov);
static bool write_chunk(rx_tap_t *t, int32_t *accepted);
static bool tally_write(int rc, int32_t *accepted);

/* Takes the frame whose pieces chunk_room's iov now holds. */
static void chunk_commit(rx_tap_t *t, uint32_t parts, int bare) {
  tx_chunk_t *c = &t->chunk;
  struct iovec *iov = c->iov + c->used;
  if (bare) iov[0] = (struct iovec){ (void *)zero_vnet_hdr, RX_VNET_HDR_LEN };
  int n = (int)parts + bare;
  size_t len = 0;
  for (int i = 0; i < n; i++) len += iov[i].iov_len;
  if (t->vnet) len -= RX_VNET_HDR_LEN;
  c->frames[c->count] = (rx_uring_frame_t){ iov, n };
  c->lens[c->count] = len;
  c->count++;
  c->used += (unsigned)n;
}

static bool chunk_room(rx_tap_t *t, uint32_t parts, int bare, int32_t *accepted, struct iovec **iov) {
  tx_chunk_t *c = &t->chunk;
  if (c->count == RX_URING_ENTRIES || c->used + parts + (unsigned)bare > RX_CHUNK_IOV) {
    if (!write_chunk(t, accepted)) return false;
  }
  *iov = c->iov + c->used + bare;
  return true;
}

/*
 * Writes the gathered frames, in order: with io_uring in one system call when there are
 * several, io_uring is on and nothing waits in the queue (a queued frame goes first, and a
 * held device queues everything), else one write each as before. Each frame's result is
 * handled as write_iov handles a write's: counted, queued on EAGAIN, an error returned.
 * Tallies them as writeBatch does; false when the batch stops at a fatal error.
 */
static bool write_chunk(rx_tap_t *t, int32_t *accepted) {
  tx_chunk_t *c = &t->chunk;
  unsigned count = c->count;
  c->count = c->used = 0;
  bool go_on = true;
  if (count < 2 || t->uring.ring < 0 || t->queue.count != 0 || t->hold_writes) {
    for (unsigned i = 0; i < count && go_on; i++) go_on = tally_write(write_iov(t, c->frames[i].iov, c->frames[i].n), accepted);
    return go_on;
  }
  /* A failing ring is given up (plain writes from now on); res says what it wrote. */
  if (rx_uring_writev(&t->uring, c->frames, count, c->res) != 0) rx_uring_close(&t->uring);
  t->stats.tx_submits++;
  int waited = 0;
  /* Every result is counted, even past a fatal one (those frames were written or tried). */
  for (unsigned i = 0; i < count; i++) {
    int32_t r = c->res[i];
    int rc;
    if (r == RX_URING_NOT_DONE) {
      if (!go_on) break; /* never tried: the batch stopped before it */
      rc = write_iov(t, c->frames[i].iov, c->frames[i].n);
    } else if (r >= 0) {
      t->stats.tx_frames++;
      t->stats.tx_bytes += (double)c->lens[i];
      t->stats.tx_uring_frames++;
      if (waited) t->stats.tx_reordered++; /* no TCP harm; the device's send buffer was full */
      rc = RX_WRITE_SENT;
    } else if (is_transient(-r)) {
      rc = queue_frame(t, c->frames[i].iov, c->frames[i].n);
      waited = 1;
    } else {
      rc = write_failed(t, -r);
    }
    if (go_on) go_on = tally_write(rc, accepted);
  }
  return go_on;
}

/* ---------- N-API plumbing ---------- */

static rx_tap_t *this_tap(napi_env env, napi_callback_info info, size_t *argc, napi_value *argv) {
  return rx_unwrap_this(env, info, argc, argv, "TapHandle");
}

static rx_tap_t *open_tap(napi_env env, napi_callback_info info, size_t *argc, napi_value *argv) {
  rx_tap_t *t = this_tap(env, info, argc, argv);
  if (t != NULL && t->closed) {
    throw_code(env, "ERR_LINK_CLOSED", "TAP device is closed");
    return NULL;
  }
  return t;
}

/* A Uint8Array's bytes, in one N-API call: napi_get_typedarray_info itself refuses (napi_invalid_arg,
 * no exception) what is not a typed array, so no napi_is_typedarray first. */
static int get_uint8_array(napi_env env, napi_value v, uint8_t **data, size_t *len) {
  napi_typedarray_type type;
  void *ptr;
  if (napi_get_typedarray_info(env, v, &type, len, &ptr, NULL, NULL) != napi_ok || type != napi_uint8_array) return -1;
  *data = ptr;
  return 0;
}

static int get_string(napi_env env, napi_value v, char *buf, size_t size) {
  size_t len;
  napi_valuetype type;
  if (napi_typeof(env, v, &type) != napi_ok || type != napi_string) return -1;
  if (napi_get_value_string_utf8(env, v, buf, size, &len) != napi_ok) return -1;
  return len + 1 >= size ? -2 : 0; /* -2: too long for the buffer */
}

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

static napi_value tap_send_frame(napi_env env, napi_callback_info info);
static napi_value tap_send_with_header(napi_env env, napi_callback_info info);
static napi_value tap_send_span(napi_env env, napi_callback_info info);
static void bound_writer_finalize(napi_env env, void *data, void *hint);

/* Makes `fn` bound to `t` as the handle's property `name` (see send_bound). */
static void add_bound_writer(napi_env env, napi_value self, rx_tap_t *t, const char *name, napi_callback fn) {
  napi_value f;
  if (napi_create_function(env, name, NAPI_AUTO_LENGTH, fn, t, &f) != napi_ok) return;
  if (napi_add_finalizer(env, f, t, bound_writer_finalize, NULL, NULL) != napi_ok) return;
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
    return throw_code(env, "ERR_CONSTRUCT_CALL_REQUIRED", "TapHandle must be called with new");
  char name[64], netns[256];
  int rc = argc >= 1 ? get_string(env, argv[0], name, sizeof name) : -1;
  if (rc == -1) return throw_code(env, "ERR_INVALID_ARG_TYPE", "name must be a string");
  if (rc == -2) name[IFNAMSIZ] = '\0'; /* surely too long: rx_tap_open rejects with EINVAL */
  const char *ns = NULL;
  napi_valuetype type = napi_undefined;
  if (argc >= 2) napi_typeof(env, argv[1], &type);
  if (type != napi_undefined && type != napi_null) {
    rc = get_string(env, argv[1], netns, sizeof netns);
    if (rc == -1) return throw_code(env, "ERR_INVALID_ARG_TYPE", "netns must be a string");
    if (rc == -2) return throw_code(env, "ERR_INVALID_ARG_VALUE", "netns name too long");
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
  if (batch < 1 || batch > RX_MAX_BATCH) return throw_code(env, "ERR_OUT_OF_RANGE", "batchLimit must be 1..4096");
  if (busy_us > RX_MAX_BUSY_POLL_US) return throw_code(env, "ERR_OUT_OF_RANGE", "busyPollUs must be 0..1000000");

  rx_tap_t *t = calloc(1, sizeof *t);
  if (t == NULL) return throw_code(env, "ENOMEM", "out of memory");
  t->env = env;
  t->uring.ring = -1;
  t->fd = t->ctl = -1;
  t->poison = -1;
  if (napi_get_uv_event_loop(env, &t->loop) != napi_ok) {
    free(t);
    return throw_code(env, "ERR_INTERNAL", "no event loop");
  }
  t->batch_limit = batch;
  t->busy_poll_ns = (uint64_t)busy_us * 1000;
  t->vnet = vnet;
  t->tun = tun;
  t->pool = rx_slab_pool_new(RX_SLAB_SIZE, RX_SLABS_KEPT, RX_SLABS_HIDDEN, RX_SLAB_HIDE_AGE, RX_SLAB_OWE_MAX);
  if (t->pool == NULL || rx_wq_init(&t->queue, queue) != 0) {
    if (t->pool != NULL) rx_slab_pool_close(t->pool);
    free(t);
    return throw_code(env, "ENOMEM", "out of memory");
  }

  rx_tap_open_t opened;
  rx_tap_error_t e;
  if (rx_tap_open(name, ns, vnet, tun, &opened, &e) != 0) {
    rx_wq_free(&t->queue);
    rx_slab_pool_close(t->pool);
    free(t);
    return throw_tap_error(env, &e);
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
  napi_wrap(env, self, t, finalize, NULL, &t->wrapper);
  napi_type_tag_object(env, self, &TAP_TAG);
  uint32_t refs;
  napi_reference_ref(env, t->wrapper, &refs); /* strong while open */
  napi_add_async_cleanup_hook(env, on_env_teardown, t, &t->cleanup);
  return self;
}

static napi_value tap_name(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  rx_tap_t *t = this_tap(env, info, &argc, NULL);
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

static napi_value tap_rename(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  rx_tap_t *t = open_tap(env, info, &argc, argv);
  if (t == NULL) return NULL;
  char name[64];
  int rc = argc >= 1 ? get_string(env, argv[0], name, sizeof name) : -1;
  if (rc == -1) return throw_code(env, "ERR_INVALID_ARG_TYPE", "name must be a string");
  if (rc == -2) name[IFNAMSIZ] = '\0';
  rx_tap_error_t e;
  if (rx_tap_rename(t->fd, t->ctl, name, &e) != 0) return throw_tap_error(env, &e);
  rx_tap_current_name(t->fd, t->name, &e);
  return NULL;
}

static napi_value tap_get_mac(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  rx_tap_t *t = open_tap(env, info, &argc, NULL);
  if (t == NULL) return NULL;
  uint8_t mac[6];
  rx_tap_error_t e;
  if (rx_tap_get_mac(t->fd, mac, &e) != 0) return throw_tap_error(env, &e);
  napi_value out;
  void *copy;
  napi_create_buffer_copy(env, 6, mac, &copy, &out);
  return out;
}

static napi_value tap_set_mac(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  rx_tap_t *t = open_tap(env, info, &argc, argv);
  if (t == NULL) return NULL;
  uint8_t *mac;
  size_t len;
  if (argc < 1 || get_uint8_array(env, argv[0], &mac, &len) != 0 || len != 6)
    return throw_code(env, "ERR_INVALID_ARG_VALUE", "mac must be a 6-byte Uint8Array");
  rx_tap_error_t e;
  if (rx_tap_set_mac(t->fd, mac, &e) != 0) return throw_tap_error(env, &e);
  return NULL;
}

/* What getMtu() and getFlags() share: an int read through the control socket, or a throw. */
typedef int (*tap_int_getter)(int fd, int ctl, int *out, rx_tap_error_t *e);

static napi_value get_int(napi_env env, napi_callback_info info, tap_int_getter get) {
  size_t argc = 0;
  rx_tap_t *t = open_tap(env, info, &argc, NULL);
  if (t == NULL) return NULL;
  int value;
  rx_tap_error_t e;
  if (get(t->fd, t->ctl, &value, &e) != 0) return throw_tap_error(env, &e);
  napi_value out;
  napi_create_int32(env, value, &out);
  return out;
}

static napi_value tap_get_mtu(napi_env env, napi_callback_info info) {
  return get_int(env, info, rx_tap_get_mtu);
}

static napi_value tap_set_mtu(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  rx_tap_t *t = open_tap(env, info, &argc, argv);
  if (t == NULL) return NULL;
  int32_t mtu;
  if (argc < 1 || napi_get_value_int32(env, argv[0], &mtu) != napi_ok)
    return throw_code(env, "ERR_INVALID_ARG_TYPE", "mtu must be a number");
  rx_tap_error_t e;
  if (rx_tap_set_mtu(t->fd, t->ctl, mtu, &e) != 0) return throw_tap_error(env, &e);
  return NULL;
}

static napi_value tap_get_flags(napi_env env, napi_callback_info info) {
  return get_int(env, info, rx_tap_get_flags);
}

static napi_value tap_set_up(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  rx_tap_t *t = open_tap(env, info, &argc, argv);
  if (t == NULL) return NULL;
  bool up = false;
  if (argc < 1 || napi_get_value_bool(env, argv[0], &up) != napi_ok)
    return throw_code(env, "ERR_INVALID_ARG_TYPE", "up must be a boolean");
  rx_tap_error_t e;
  if (rx_tap_set_up(t->fd, t->ctl, up, &e) != 0) return throw_tap_error(env, &e);
  return NULL;
}

static napi_value tap_set_sndbuf(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  rx_tap_t *t = open_tap(env, info, &argc, argv);
  if (t == NULL) return NULL;
  int32_t bytes;
  if (argc < 1 || napi_get_value_int32(env, argv[0], &bytes) != napi_ok || bytes <= 0)
    return throw_code(env, "ERR_INVALID_ARG_VALUE", "sndbuf must be a positive number");
  rx_tap_error_t e;
  if (rx_tap_set_sndbuf(t->fd, bytes, &e) != 0) return throw_tap_error(env, &e);
  return NULL;
}

/* setOffload(flags): TUNSETOFFLOAD (TUN_F_CSUM 1, TUN_F_TSO4 2, ...); only with vnetHdr. */
static napi_value tap_set_offload(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  rx_tap_t *t = open_tap(env, info, &argc, argv);
  if (t == NULL) return NULL;
  uint32_t flags;
  if (argc < 1 || napi_get_value_uint32(env, argv[0], &flags) != napi_ok)
    return throw_code(env, "ERR_INVALID_ARG_TYPE", "offload flags must be a number");
  if (!t->vnet && flags != 0) return throw_code(env, "ERR_INVALID_STATE", "offloads need a handle opened with vnetHdr");
  rx_tap_error_t e;
  if (rx_tap_set_offload(t->fd, flags, &e) != 0) return throw_tap_error(env, &e);
  return NULL;
}

/*
 * holdWrites(bool): while true, writes queue as if the fd said EAGAIN; false lets the poll flush
 * the queue when the fd is writable. For tests: a TAP fd on Linux consumes each write at once
 * (the kernel processes the frame inside write()), so a real EAGAIN cannot be provoked on demand.
 */
static napi_value tap_hold_writes(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  rx_tap_t *t = open_tap(env, info, &argc, argv);
  if (t == NULL) return NULL;
  bool hold = false;
  if (argc < 1 || napi_get_value_bool(env, argv[0], &hold) != napi_ok)
    return throw_code(env, "ERR_INVALID_ARG_TYPE", "hold must be a boolean");
  t->hold_writes = hold;
  update_poll(t);
  return NULL;
}

/*
 * poisonRecycled(byte): for tests, a recycled batch region is filled with `byte` (0-255) before
 * the next batch is read into it, so a view kept by mistake sees garbage at once; -1: off.
 */
static napi_value tap_poison_recycled(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  rx_tap_t *t = open_tap(env, info, &argc, argv);
  if (t == NULL) return NULL;
  int32_t byte = -1;
  if (argc < 1 || napi_get_value_int32(env, argv[0], &byte) != napi_ok || byte < -1 || byte > 255)
    return throw_code(env, "ERR_INVALID_ARG_VALUE", "poison must be an integer -1..255");
  t->poison = byte;
  return NULL;
}

/* start(onFrames, onError): begin reading; replaces earlier callbacks. */
static napi_value tap_start(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  rx_tap_t *t = open_tap(env, info, &argc, argv);
  if (t == NULL) return NULL;
  napi_valuetype a = napi_undefined, b = napi_undefined;
  if (argc >= 2) {
    napi_typeof(env, argv[0], &a);
    napi_typeof(env, argv[1], &b);
  }
  if (a != napi_function || b != napi_function)
    return throw_code(env, "ERR_INVALID_ARG_TYPE", "start(onFrames, onError) takes two functions");
  delete_ref(env, &t->on_frames);
  delete_ref(env, &t->on_error);
  napi_create_reference(env, argv[0], 1, &t->on_frames);
  napi_create_reference(env, argv[1], 1, &t->on_error);
  t->reading = 1;
  update_poll(t);
  return NULL;
}

/* ownSleep(on, busyPollUs?): the wait after a wake-up in the handle's own hands (sleep_here) or
   libuv's; busyPollUs (0..1000000, default 0): non-blocking polls for that long before it sleeps. */
static napi_value tap_own_sleep(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  rx_tap_t *t = open_tap(env, info, &argc, argv);
  if (t == NULL) return NULL;
  bool on = false;
  if (argc < 1 || napi_get_value_bool(env, argv[0], &on) != napi_ok) return throw_code(env, "ERR_INVALID_ARG_TYPE", "ownSleep(on: boolean, busyPollUs?: number)");
  uint32_t busy_us = 0;
  napi_valuetype bt = napi_undefined;
  if (argc >= 2) napi_typeof(env, argv[1], &bt);
  if (bt != napi_undefined) {
    double d = -1;
    if (bt != napi_number || napi_get_value_double(env, argv[1], &d) != napi_ok || !(d >= 0 && d <= RX_MAX_BUSY_POLL_US) || d != (double)(uint32_t)d)
      return throw_code(env, "ERR_OUT_OF_RANGE", "ownSleep: busyPollUs must be an integer 0..1000000");
    busy_us = (uint32_t)d;
  }
  t->own_sleep = on;
  t->own_busy_ns = on ? (uint64_t)busy_us * 1000 : 0;
  return NULL;
}

/* stop(): stop reading (frames wait in the kernel queue, which drops beyond its length). */
static napi_value tap_stop(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  rx_tap_t *t = this_tap(env, info, &argc, NULL);
  if (t == NULL || t->closed) return NULL;
  t->reading = 0;
  update_poll(t);
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
  rx_tap_t *t = this_tap(env, info, &argc, NULL);
  double before = t == NULL ? 0 : t->stats.rx_frames;
  if (t != NULL && !t->closed && t->reading && t->in_callback == 0) {
    /* A batch ends at its limit, or after one frame in the single-read rhythm: a few more rounds
     * take the rest; each round's last read found the device empty when fewer came. */
    for (int round = 0; round < 16 && !t->closed && t->reading && t->in_callback == 0; round++) {
      double was = t->stats.rx_frames;
      double empty = t->stats.rx_empty_reads;
      read_batch(t);
      if (t->stats.rx_frames == was || t->stats.rx_empty_reads != empty) break;
    }
  }
  napi_value out;
  napi_create_double(env, t == NULL ? 0 : t->stats.rx_frames - before, &out);
  return out;
}

/* write(frame): RX_WRITE_SENT | RX_WRITE_QUEUED | RX_WRITE_DROPPED, or -errno. */
static napi_value tap_write(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  rx_tap_t *t = open_tap(env, info, &argc, argv);
  if (t == NULL) return NULL;
  uint8_t *data;
  size_t len;
  if (argc < 1 || get_uint8_array(env, argv[0], &data, &len) != 0)
    return throw_code(env, "ERR_INVALID_ARG_TYPE", "frame must be a Uint8Array");
  napi_value out;
  napi_create_int32(env, write_one(t, data, len), &out);
  return out;
}

/*
 * The writers bound to their device (the function's data is the device), so a call skips
 * finding `this`'s native object, the costliest part of a method call here, and takes its
 * arguments without the checks writeBatch needs for arrays. Made once per handle (properties
 * `sendFrame`, `sendWithHeader` and `sendSpan`); the device's memory stays until all are collected.
 *
 * sendFrame(frame): as write(frame).
 * sendWithHeader(header, frame): one frame behind its own virtio_net_hdr (one writev), as the
 * pair [header, frame] in writeBatch; only on a handle opened with vnetHdr.
 */
static napi_value send_bound(napi_env env, napi_callback_info info, int with_header) {
  size_t argc = 2;
  napi_value argv[2];
  void *data;
  napi_get_cb_info(env, info, &argc, argv, NULL, &data);
  rx_tap_t *t = data;
  if (t->closed) return throw_code(env, "ERR_LINK_CLOSED", "TAP device is closed");
  if (with_header && !t->vnet) return throw_code(env, "ERR_INVALID_STATE", "a virtio_net_hdr needs a handle opened with vnetHdr");
  struct iovec iov[2];
  size_t n = (size_t)with_header + 1;
  for (size_t i = 0; i < n; i++) {
    uint8_t *bytes;
    size_t len;
    if (argc <= i || get_uint8_array(env, argv[i], &bytes, &len) != 0)
      return throw_code(env, "ERR_INVALID_ARG_TYPE", with_header ? "header and frame must be Uint8Arrays" : "frame must be a Uint8Array");
    iov[i] = (struct iovec){ bytes, len };
  }
  napi_value out;
  napi_create_int32(env, with_header ? write_iov(t, iov, 2) : write_one(t, iov[0].iov_base, iov[0].iov_len), &out);
  return out;
}

static napi_value tap_send_frame(napi_env env, napi_callback_info info) {
  return send_bound(env, info, 0);
}

static napi_value tap_send_with_header(napi_env env, napi_callback_info info) {
  return send_bound(env, info, 1);
}

/*
 * sendSpan(bytes, start, end): bytes[start, end) as one frame in one write() of one piece, bound
 * like sendFrame. On a handle opened with vnetHdr the span begins with the frame's own
 * virtio_net_hdr, written by the caller into room in front of the frame (the packet's headroom),
 * so no second piece (and no writev) is needed for it. Same results as write().
 */
static napi_value tap_send_span(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  void *data;
  napi_get_cb_info(env, info, &argc, argv, NULL, &data);
  rx_tap_t *t = data;
  if (t->closed) return throw_code(env, "ERR_LINK_CLOSED", "TAP device is closed");
  uint8_t *bytes;
  size_t len;
  uint32_t start = 0, end = 0;
  if (argc < 3 || get_uint8_array(env, argv[0], &bytes, &len) != 0 || napi_get_value_uint32(env, argv[1], &start) != napi_ok ||
      napi_get_value_uint32(env, argv[2], &end) != napi_ok)
    return throw_code(env, "ERR_INVALID_ARG_TYPE", "sendSpan(bytes: Uint8Array, start: number, end: number)");
  size_t least = t->vnet ? RX_VNET_HDR_LEN : 1;
  if (start > end || end > len || end - start < least)
    return throw_code(env, "ERR_OUT_OF_RANGE", "the span must lie in bytes and hold a frame (behind its virtio_net_hdr with vnetHdr)");
  struct iovec iov = { bytes + start, end - start };
  napi_value out;
  napi_create_int32(env, write_iov(t, &iov, 1), &out);
  return out;
}

static void bound_writer_finalize(napi_env env, void *data, void *hint) {
  rx_tap_t *t = data;
  (void)env;
  (void)hint;
  t->bound_writers--;
  maybe_free(t);
}

/*
 * writeBatch(frames[, counts]): how many were sent or queued; -errno at the first fatal error.
 * Without counts each item is a frame (Uint8Array) or a frame gathered from pieces (array of
 * Uint8Array); with counts (a Uint8Array), the flat form below.
 */
/* Fills `iov` with the `parts` Uint8Arrays of `array` from index `first`; -1 if one is not one. */
static int pieces_iov(napi_env env, napi_value array, uint32_t first, uint32_t parts, struct iovec *iov) {
  for (uint32_t k = 0; k < parts; k++) {
    napi_value piece;
    uint8_t *data;
    size_t len;
    napi_get_element(env, array, first + k, &piece);
    if (get_uint8_array(env, piece, &data, &len) != 0) return -1;
    iov[k] = (struct iovec){ data, len };
  }
  return 0;
}

/* Counts one write's outcome into *accepted; false when the batch stops there (a fatal error,
   which *accepted then holds as -errno). */
static bool tally_write(int rc, int32_t *accepted) {
  if (rc == RX_WRITE_SENT || rc == RX_WRITE_QUEUED) (*accepted)++;
  else if (rc < 0 && is_fatal(-rc)) {
    *accepted = rc;
    return false;
  }
  return true;
}

/* writeBatch(pieces, counts): the flat form. Frame i is the next counts[i] Uint8Arrays of
   `pieces` (one writev when more than one): no array per frame to look into, two N-API calls a
   piece. Everything is checked before the first write, so a bad call writes nothing. */
static napi_value write_batch_flat(napi_env env, rx_tap_t *t, napi_value items, uint32_t n, const uint8_t *counts, size_t frames) {
  uint32_t sum = 0;
  for (size_t f = 0; f < frames; f++) {
    if (counts[f] == 0 || counts[f] > RX_MAX_PARTS)
      return throw_code(env, "ERR_INVALID_ARG_VALUE", "each frame has 1..64 pieces");
    sum += counts[f];
  }
  if (sum != n) return throw_code(env, "ERR_INVALID_ARG_VALUE", "the piece counts must add up to the number of pieces");
  int32_t accepted = 0;
  uint32_t at = 0;
  t->chunk.count = t->chunk.used = 0;
  bool go_on = true;
  for (size_t f = 0; f < frames && go_on; f++) {
    uint32_t parts = counts[f];
    int bare = parts == 1 && t->vnet;
    struct iovec *iov;
    if (!(go_on = chunk_room(t, parts, bare, &accepted, &iov))) break;
    if (pieces_iov(env, items, at, parts, iov) != 0) {
      write_chunk(t, &accepted); /* the frames before it go out, as they did one by one */
      return throw_code(env, "ERR_INVALID_ARG_TYPE", "pieces must be Uint8Arrays");
    }
    at += parts;
    chunk_commit(t, parts, bare);
  }
  if (go_on) write_chunk(t, &accepted);
  napi_value out;
  napi_create_int32(env, accepted, &out);
  return out;
}

/* The flow table's write of a reply (udp-flow.h): one piece, behind its virtio_net_hdr with vnetHdr. */
static int flow_write(void *dev, const uint8_t *bytes, size_t len) {
  struct iovec iov = { (void *)bytes, len };
  return write_iov(dev, &iov, 1);
}

rx_flow_table_t *rx_tap_flow_table(napi_env env, napi_value handle, unsigned mtu) {
  bool tagged = false;
  void *data = NULL;
  if (napi_check_object_type_tag(env, handle, &TAP_TAG, &tagged) != napi_ok || !tagged || napi_unwrap(env, handle, &data) != napi_ok ||
      data == NULL)
    return NULL;
  rx_tap_t *t = data;
  if (t->closed || !t->tun) return NULL;
  if (!t->flows_open) {
    if (rx_flow_table_init(&t->flows, t, flow_write, t->vnet ? RX_VNET_HDR_LEN : 0) != 0) return NULL;
    t->flows_open = 1;
  }
  t->flows.mtu = mtu;
  return &t->flows;
}

static napi_value tap_write_batch(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  rx_tap_t *t = open_tap(env, info, &argc, argv);
  if (t == NULL) return NULL;
  bool is_array = false;
  if (argc < 1 || napi_is_array(env, argv[0], &is_array) != napi_ok || !is_array)
    return throw_code(env, "ERR_INVALID_ARG_TYPE", "frames must be an array of Uint8Array");
  uint32_t n;
  napi_get_array_length(env, argv[0], &n);
  if (argc >= 2) {
    napi_valuetype type;
    napi_typeof(env, argv[1], &type);
    if (type != napi_undefined) {
      uint8_t *counts;
      size_t frames;
      if (get_uint8_array(env, argv[1], &counts, &frames) != 0)
        return throw_code(env, "ERR_INVALID_ARG_TYPE", "counts must be a Uint8Array");
      return write_batch_flat(env, t, argv[0], n, counts, frames);
    }
  }
  int32_t accepted = 0;
  t->chunk.count = t->chunk.used = 0;
  bool go_on = true;
  for (uint32_t i = 0; i < n && go_on; i++) {
    napi_value item;
    uint8_t *data;
    size_t len;
    napi_get_element(env, argv[0], i, &item);
    struct iovec *iov;
    if (get_uint8_array(env, item, &data, &len) == 0) {
      if (!(go_on = chunk_room(t, 1, t->vnet, &accepted, &iov))) break;
      iov[0] = (struct iovec){ data, len };
      chunk_commit(t, 1, t->vnet);
      continue;
    }
    /* A gathered frame: an array of pieces written with one writev (the caller supplies the
       virtio_net_hdr as the first piece when the handle has vnetHdr). */
    bool parts_array = false;
    uint32_t parts = 0;
    if (napi_is_array(env, item, &parts_array) != napi_ok || !parts_array || napi_get_array_length(env, item, &parts) != napi_ok ||
        parts == 0 || parts > RX_MAX_PARTS || !(go_on = chunk_room(t, parts, 0, &accepted, &iov)) ||
        pieces_iov(env, item, 0, parts, iov) != 0) {
      if (!go_on) break;
      write_chunk(t, &accepted); /* the frames before it go out, as they did one by one */
      return throw_code(env, "ERR_INVALID_ARG_TYPE", "frames must be Uint8Arrays or arrays of 1..64 Uint8Arrays");
    }
    chunk_commit(t, parts, 0);
  }
  if (go_on) write_chunk(t, &accepted);
  napi_value out;
  napi_create_int32(env, accepted, &out);
  return out;
}

static void set_number(napi_env env, napi_value obj, const char *key, double value) {
  napi_value v;
  napi_create_double(env, value, &v);
  napi_set_named_property(env, obj, key, v);
}

static napi_value tap_stats(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  rx_tap_t *t = this_tap(env, info, &argc, NULL);
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
  {
    rx_socket_env_t *e = rx_socket_env(env);
    set_number(env, out, "hostDirectDispatches", e != NULL ? e->direct_dispatches : 0);
  }
  set_number(env, out, "rxEmptyReads", t->stats.rx_empty_reads);
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

/* ref()/unref(): remembered for a poll started later, applied now to a running one. */
static napi_value set_unrefd(napi_env env, napi_callback_info info, int unrefd) {
  size_t argc = 0;
  rx_tap_t *t = this_tap(env, info, &argc, NULL);
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
  rx_tap_t *t = this_tap(env, info, &argc, NULL);
  if (t == NULL || t->closed) return NULL;
  t->stats.tx_dropped += (double)t->queue.count;
  shutdown_device(t);
  if (t->owed_at_close > 0) {
    int64_t ignored;
    napi_adjust_external_memory(env, t->owed_at_close, &ignored);
    t->owed_at_close = 0;
  }
  release_js(t);
  return NULL;
}

static napi_value tap_closed(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  rx_tap_t *t = this_tap(env, info, &argc, NULL);
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
  if (argc >= 2) get_string(env, argv[1], syscall, sizeof syscall);
  if (argc >= 3) get_string(env, argv[2], detail, sizeof detail);
  return make_error(env, err < 0 ? -err : err, syscall, detail);
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
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
