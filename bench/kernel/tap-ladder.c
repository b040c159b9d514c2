/*
 * The rungs between tap-floor.c (a C responder on a TAP device: the kernel's latency tail after
 * idle) and tap-floor-node.ts (the same in Node: most of the stack's tail). Each option adds one
 * thing a Node process has and the C floor has not, so bench/kernel/wake-ladder.ts can time
 * which one makes a wake-up after idle slow. It answers what tap-floor.c answers (tap-turn.h).
 *
 * Usage: tap-ladder TAP IPV4 MAC UDP_PORT [OPTION...]
 *   --loop epoll     (default) epoll_wait(-1), then read() until EAGAIN
 *   --loop epoll2    epoll_wait(0) first and epoll_wait(-1) only when it found nothing: the two
 *                    polls per sleep libuv makes when UV_METRICS_IDLE_TIME is on (Node turns it on)
 *   --loop uv        libuv: a uv_poll_t on the fd, read() until EAGAIN in its callback
 *   --loop uv-idle   the same with uv_loop_configure(UV_METRICS_IDLE_TIME), as Node runs its loop
 *   --touch MIB      after each wake-up, before answering, write one byte every STRIDE bytes of a
 *                    MIB MiB buffer (faulted in at start): a footprint touched again after idle
 *   --stride BYTES   the touch stride (default 4096: one write per page; 64: every cache line)
 *   --huge           madvise(MADV_HUGEPAGE) on the touch buffer (THP is "madvise" here)
 *   --threads N      N more threads, each blocked in pthread_cond_wait for ever (Node has ~6 idle)
 *   --tick MS        one of those threads instead wakes every MS ms (V8's delayed tasks, a timer)
 *   --mlock          mlockall(MCL_CURRENT | MCL_FUTURE) before attaching
 * Prints "ready" once attached; runs until SIGTERM/SIGINT, then one JSON line with the counts.
 * Run it inside a network namespace; it configures nothing.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "tap-turn.h"

static volatile sig_atomic_t stopping;
static long answered, ignored, wakeups, empty_polls;
static uint8_t ip[4], mac[6];
static uint16_t port;
static int tap_fd;
static uint8_t frame[65536 + 64];
static volatile uint8_t *touch_buf;
static size_t touch_len, touch_stride = 4096;

static void on_signal(int sig) {
  (void)sig;
  stopping = 1;
}

/* The footprint a process touches again on every wake-up (V8's heap, the loop's structures). */
static void touch(void) {
  for (size_t i = 0; i < touch_len; i += touch_stride) touch_buf[i]++;
}

/* One wake-up: the touch, then the reads until EAGAIN. */
static int drain(void) {
  wakeups++;
  touch();
  for (;;) {
    ssize_t n = read(tap_fd, frame, sizeof frame);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) return 0;
      perror("tap-ladder: read");
      return -1;
    }
    size_t out = turn_around(frame, (size_t)n, ip, mac, port);
    if (out == 0) ignored++;
    else if (write(tap_fd, frame, out) == (ssize_t)out) answered++;
  }
}

static pthread_mutex_t idle_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t idle_cond = PTHREAD_COND_INITIALIZER;

static void *idle_thread(void *arg) {
  (void)arg;
  pthread_mutex_lock(&idle_lock);
  for (;;) pthread_cond_wait(&idle_cond, &idle_lock);
  return NULL;
}

static void *tick_thread(void *arg) {
  long ms = (long)(intptr_t)arg;
  struct timespec d = { ms / 1000, (ms % 1000) * 1000000L };
  for (;;) nanosleep(&d, NULL);
  return NULL;
}

static uv_loop_t *uv_loop;
static void on_uv_poll(uv_poll_t *h, int status, int events) {
  (void)events;
  if (status < 0 || drain() != 0 || stopping) uv_stop(h->loop);
}
static void on_uv_signal(uv_signal_t *h, int sig) {
  (void)sig;
  stopping = 1;
  uv_stop(h->loop);
}

static int run_uv(int idle_metrics) {
  uv_loop = uv_default_loop();
  if (idle_metrics && uv_loop_configure(uv_loop, UV_METRICS_IDLE_TIME) != 0) {
    fprintf(stderr, "tap-ladder: UV_METRICS_IDLE_TIME unsupported\n");
    return 1;
  }
  static uv_poll_t poll;
  static uv_signal_t term, intr;
  uv_poll_init(uv_loop, &poll, tap_fd);
  uv_poll_start(&poll, UV_READABLE, on_uv_poll);
  uv_signal_init(uv_loop, &term);
  uv_signal_start(&term, on_uv_signal, SIGTERM);
  uv_signal_init(uv_loop, &intr);
  uv_signal_start(&intr, on_uv_signal, SIGINT);
  printf("ready\n");
  fflush(stdout);
  uv_run(uv_loop, UV_RUN_DEFAULT);
  return 0;
}

static int run_epoll(int two_polls) {
  int ep = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event ev = { .events = EPOLLIN };
  if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, tap_fd, &ev) != 0) {
    perror("tap-ladder: epoll");
    return 1;
  }
  /* No SA_RESTART: a signal ends epoll_wait with EINTR. */
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  printf("ready\n");
  fflush(stdout);
  while (!stopping) {
    struct epoll_event got;
    int n = two_polls ? epoll_wait(ep, &got, 1, 0) : 0;
    if (n == 0) {
      if (two_polls) empty_polls++;
      n = epoll_wait(ep, &got, 1, -1);
    }
    if (n < 0) {
      if (errno == EINTR) continue;
      perror("tap-ladder: epoll_wait");
      return 1;
    }
    if (drain() != 0) return 1;
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 5) {
    fprintf(stderr, "usage: tap-ladder TAP IPV4 MAC UDP_PORT [--loop epoll|epoll2|uv|uv-idle] [--touch MIB] [--stride B] [--huge] [--threads N] [--tick MS] [--mlock]\n");
    return 2;
  }
  if (inet_pton(AF_INET, argv[2], ip) != 1 || parse_mac(argv[3], mac) != 0) {
    fprintf(stderr, "tap-ladder: bad address %s or MAC %s\n", argv[2], argv[3]);
    return 2;
  }
  port = (uint16_t)atoi(argv[4]);
  const char *loop = "epoll";
  long touch_mib = 0, threads = 0, tick_ms = 0;
  int huge = 0, lock = 0;
  for (int i = 5; i < argc; i++) {
    const char *a = argv[i];
    int has_value = i + 1 < argc;
    if (strcmp(a, "--loop") == 0 && has_value) loop = argv[++i];
    else if (strcmp(a, "--touch") == 0 && has_value) touch_mib = atol(argv[++i]);
    else if (strcmp(a, "--stride") == 0 && has_value) touch_stride = (size_t)atol(argv[++i]);
    else if (strcmp(a, "--threads") == 0 && has_value) threads = atol(argv[++i]);
    else if (strcmp(a, "--tick") == 0 && has_value) tick_ms = atol(argv[++i]);
    else if (strcmp(a, "--huge") == 0) huge = 1;
    else if (strcmp(a, "--mlock") == 0) lock = 1;
    else {
      fprintf(stderr, "tap-ladder: unknown option %s\n", a);
      return 2;
    }
  }
  if (touch_mib < 0 || touch_mib > 1024 || touch_stride == 0 || threads < 0 || threads > 64 || tick_ms < 0) {
    fprintf(stderr, "tap-ladder: --touch 0..1024, --stride > 0, --threads 0..64, --tick >= 0\n");
    return 2;
  }
  if (touch_mib > 0) {
    touch_len = (size_t)touch_mib << 20;
    void *m = mmap(NULL, touch_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) {
      perror("tap-ladder: mmap");
      return 1;
    }
    if (huge) madvise(m, touch_len, MADV_HUGEPAGE);
    memset(m, 1, touch_len);
    touch_buf = m;
  }
  for (long t = 0; t < threads; t++) {
    pthread_t id;
    int tick = tick_ms > 0 && t == 0;
    if (pthread_create(&id, NULL, tick ? tick_thread : idle_thread, (void *)(intptr_t)tick_ms) != 0) {
      perror("tap-ladder: pthread_create");
      return 1;
    }
  }
  if (lock && mlockall(MCL_CURRENT | MCL_FUTURE) != 0) {
    perror("tap-ladder: mlockall");
    return 1;
  }
  tap_fd = open_tap(argv[1], 1);
  if (tap_fd < 0) {
    perror("tap-ladder: attaching to the TAP device");
    return 1;
  }
  int rc;
  if (strcmp(loop, "epoll") == 0) rc = run_epoll(0);
  else if (strcmp(loop, "epoll2") == 0) rc = run_epoll(1);
  else if (strcmp(loop, "uv") == 0) rc = run_uv(0);
  else if (strcmp(loop, "uv-idle") == 0) rc = run_uv(1);
  else {
    fprintf(stderr, "tap-ladder: unknown loop %s\n", loop);
    return 2;
  }
  printf("{\"answered\":%ld,\"ignored\":%ld,\"wakeups\":%ld,\"emptyPolls\":%ld}\n", answered, ignored, wakeups, empty_polls);
  return rc;
}
