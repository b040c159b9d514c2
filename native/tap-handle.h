/*
 * The TAP/TUN handle's state and what its files share (the handle itself: rx-tap.c).
 *
 *   rx-tap.c        the class: constructor, start/stop/ownSleep/drain/close, module init
 *   tap-life.c      lifetime: closing the device, letting go of JavaScript, freeing
 *   tap-call.c      calling JavaScript from the poll, the exchange scope, a fatal error
 *   tap-poll.c      the device's uv_poll and the busy-poll window
 *   tap-read.c      receive slabs, a batch's delivery, a wake-up's reads
 *   tap-own-wait.c  the wait between wake-ups in the handle's own hands (ownSleep)
 *   tap-write.c     one frame, the write queue, several frames per io_uring call
 *   tap-send.c      the N-API writers (write, sendFrame..., writeBatch), the UDP flow table
 *   tap-config.c    the N-API device settings (name, MAC, MTU, flags, test switches)
 *   tap-stats.c     stats()
 *   tap-napi.c      errors and argument helpers (tap-napi.h)
 */
#ifndef RX_TAP_HANDLE_H
#define RX_TAP_HANDLE_H

#ifndef NAPI_VERSION
#define NAPI_VERSION 8
#endif
#include <node_api.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>
#include <uv.h>

#include "rx-slab.h"
#include "tap-sys.h"
#include "tap-uring.h"
#include "udp-flow.h"
#include "write-queue.h"

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
 * behind each other), a write that had to wait. Every RX_SINGLE_PROBE_EVERY-th wake-up probes
 * with a batch read to EAGAIN after its frame was handed over and answered (tap-read.c
 * probe_after), so a backlog is read in batches again within that many wake-ups. A frame answered
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
 * regime of docs/history/session-12.md "Session 12: bulk to the stack"). The slab is then
 * retired instead
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
  double own_sleeps;      /* poll(2) calls of the own sleep that waited and returned an event (tap_sleep_here) */
  double own_sleep_exits; /* own sleeps ended for libuv (its fd, a timer, an immediate, too many sockets) */
  double own_busy_hits;   /* own sleeps whose event came during the busy poll (no sleep) */
  double own_set_wakes;   /* own sleeps that found the host sockets' epoll set ready (more than RX_OWN_SLEEP_SOCKETS) */
  double own_hot_wakes;   /* own sleeps, with the set polled as one fd, served by the sockets served last by their own fds (no epoll_wait) */
  double rx_empty_reads; /* reads that found no frame (EAGAIN), the end of a batch */
  double rx_probes;      /* probes of the one-read rule made after the wake-up's frame was handed over */
  double rx_probe_hits;  /* of those, probes that found frames (handed over as one batch each) */
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
  napi_callback_scope exchange_scope; /* open while a wake-up's further exchanges are served (see tap_call_js) */
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

  /* Busy polling (opt-in, the option busyPollUs): for busy_poll_ns after each batch (and, in the
   * own wait, after each host socket's event served) the next one is looked for without
   * sleeping: by the own wait's non-blocking polls (tap-own-wait.c), or, with libuv's wait, by an
   * idle handle that keeps the event loop from blocking (unref'd: it never keeps the process
   * alive on its own). One window, busy_until, opened by tap_arm_busy_poll. */
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
  /* ownSleep (see tap_sleep_here): the wait between wake-ups made here, with poll(2), instead of libuv's. */
  int own_sleep;
  /* Turns the own wait lets the host sockets' set stay readable beside a hot socket before it
   * fetches the set (tap_sleep_here): 0 or 1 at first, doubled up to RX_OWN_SLEEP_PATIENCE while
   * such fetches find only hot sockets, back to 1 when one finds another socket. */
  unsigned own_set_patience;
} rx_tap_t;

/* Marks TapHandle objects, so rx_tap_flow_table can tell one from another class's object (rx-tap.c). */
extern const napi_type_tag TAP_TAG;

/* tap-life.c */
void tap_maybe_free(rx_tap_t *t);
/* Releases the OS resources; no JavaScript is touched, so it is safe at environment teardown. */
void tap_shutdown(rx_tap_t *t);
void tap_delete_ref(napi_env env, napi_ref *ref);
/* Drops what keeps JavaScript objects alive; after this the wrapper may be collected. */
void tap_release_js(rx_tap_t *t);
void tap_on_env_teardown(napi_async_cleanup_hook_handle handle, void *arg);
void tap_finalize(napi_env env, void *data, void *hint);

/* tap-call.c */
void tap_call_js(rx_tap_t *t, napi_ref fn_ref, size_t argc, napi_value *argv);
int tap_open_exchange_scope(rx_tap_t *t);
void tap_close_exchange_scope(rx_tap_t *t);
/* A fatal device error: shut down first (so nothing more is emitted), then tell JavaScript. */
void tap_fail_device(rx_tap_t *t, int err, const char *syscall, const char *detail);

/* tap-poll.c */
/* Watches the fd for what is wanted now: readable while reading, writable while frames queue. */
void tap_update_poll(rx_tap_t *t);
/* Opens (or extends) the busy-poll window after a batch. */
void tap_arm_busy_poll(rx_tap_t *t);

/* tap-read.c: one wake-up's reads and deliveries. */
void tap_read_batch(rx_tap_t *t);

/* tap-own-wait.c */
void tap_sleep_here(rx_tap_t *t);

/* tap-write.c */
int tap_is_fatal(int err);
int tap_is_transient(int err);
void tap_flush_queue(rx_tap_t *t);
/* Writes one frame gathered from `n` pieces: RX_WRITE_SENT | RX_WRITE_QUEUED | RX_WRITE_DROPPED, or -errno. */
int tap_write_iov(rx_tap_t *t, const struct iovec *iov, int n);
/* A plain frame; with IFF_VNET_HDR an all-zero header (no offload) goes in front. */
int tap_write_one(rx_tap_t *t, const uint8_t *data, size_t len);
/* Room in the chunk for a frame of `parts` pieces, behind an all-zero virtio_net_hdr when
 * `bare` (as tap_write_one puts one in front of a plain frame with vnetHdr). Writes the chunk first
 * when it is full (false: the batch stopped there). */
bool tap_chunk_room(rx_tap_t *t, uint32_t parts, int bare, int32_t *accepted, struct iovec **iov);
/* Takes the frame whose pieces tap_chunk_room's iov now holds. */
void tap_chunk_commit(rx_tap_t *t, uint32_t parts, int bare);
bool tap_write_chunk(rx_tap_t *t, int32_t *accepted);
bool tap_tally_write(int rc, int32_t *accepted);

#endif
