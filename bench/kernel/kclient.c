/*
 * The kernel-side benchmark client. The same binary measures rx-netstack over its TAP device
 * and the Linux kernel over a veth pair, so the two figures differ only in the server side.
 * Every mode is bounded in time; each prints one JSON line.
 *
 *   kclient stream-to   HOST PORT SECONDS   bulk to a discard server: Gbit/s the server's TCP
 *                                           acknowledged (TCP_INFO bytes_acked), after 0.2 s
 *   kclient stream-from HOST PORT SECONDS   bulk from a chargen server: Gbit/s read, after 0.2 s
 *                                           Both bulk modes also print the longest single
 *                                           write()/read() (max_stall_ms); when one call spans
 *                                           the warm-up mark and the end of the run, there is
 *                                           no window after the warm-up: the figure covers the
 *                                           whole run instead (warmup_skipped: true)
 *   kclient rr          HOST PORT SECONDS   1-byte TCP request/response on one connection, per s
 *   kclient crr         HOST PORT SECONDS   connect, 1-byte echo, close (FIN both ways), per s
 *   kclient udp-rr      HOST PORT SECONDS   1-byte UDP request/response, per s
 *   kclient ping        HOST COUNT          ICMP echo (56 bytes), back to back: median RTT, ms
 *   kclient scale       HOST PORT N SECONDS N concurrent echo connections, each checked byte
 *                                           for byte, all held open at once, then closed
 *   kclient latency     KIND HOST PORT COUNT INTERVAL_MS
 *                                           COUNT request/response exchanges (KIND ping: ICMP
 *                                           echo; ping-recv: the same waiting in recv() as udp
 *                                           does, not poll() then recv(); udp: 1 byte to a UDP
 *                                           echo; tcp: 1 byte on one
 *                                           TCP echo connection), one every INTERVAL_MS (0: back
 *                                           to back), each timed alone: p50, p99, min, max in ms
 *   kclient send-for    HOST PORT SECONDS [CC]  lossy paths: send as fast as TCP lets us until the
 *                                           peer resets the connection (the receiver measures)
 *                                           or SECONDS pass; bytes written, options negotiated;
 *                                           CC: the congestion control (default: the system's)
 *   kclient recv-for    HOST PORT SECONDS   lossy paths: read for SECONDS from the first byte
 *                                           on, then reset: Mbit/s received, first to last byte
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void fail(const char *mode, const char *what) {
  printf("{\"mode\":\"%s\",\"error\":\"%s: %s\"}\n", mode, what, strerror(errno));
  exit(1);
}

static struct sockaddr_in addr_of(const char *host, int port) {
  struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
  if (inet_pton(AF_INET, host, &a.sin_addr) != 1) {
    printf("{\"error\":\"bad address %s\"}\n", host);
    exit(2);
  }
  return a;
}

static int tcp_connect(const char *mode, struct sockaddr_in *a, int nodelay) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) fail(mode, "socket");
  if (nodelay) {
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  struct timeval tv = { 3, 0 };
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  if (connect(fd, (struct sockaddr *)a, sizeof *a) != 0) fail(mode, "connect");
  return fd;
}

static uint64_t bytes_acked(int fd) {
  struct tcp_info info;
  socklen_t len = sizeof info;
  memset(&info, 0, sizeof info);
  if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0) return 0;
  return info.tcpi_bytes_acked;
}

/* Slow start and the first window are left out of bulk figures: 0.2 s, less for short runs. */
static double warmup_for(double seconds) {
  return seconds >= 1 ? 0.2 : seconds / 4;
}

static int stream_to(struct sockaddr_in *a, double seconds) {
  static char buf[65536];
  memset(buf, 'x', sizeof buf);
  int fd = tcp_connect("stream-to", a, 0);
  const double WARMUP = warmup_for(seconds);
  double start = now(), t0 = 0, t, max_stall = 0;
  uint64_t b0 = 0;
  while ((t = now()) - start < seconds) {
    if (t0 == 0 && t - start >= WARMUP) {
      t0 = t;
      b0 = bytes_acked(fd);
    }
    ssize_t n = write(fd, buf, sizeof buf);
    if (n < 0) fail("stream-to", "write");
    double after = now();
    if (after - t > max_stall) max_stall = after - t;
  }
  uint64_t b1 = bytes_acked(fd);
  double t1 = now();
  /* A write blocked from before the warm-up mark to past the end (the receiver, or the CPU,
   * stalled): no window after the warm-up, so the whole run is the window (b0 = 0: the
   * handshake acknowledges no data). Otherwise t0 = 0 would divide by the time since boot. */
  int skipped = t0 == 0;
  if (skipped) {
    t0 = start;
    b0 = 0;
  }
  printf("{\"mode\":\"stream-to\",\"bytes\":%llu,\"seconds\":%.6f,\"gbps\":%.6f,\"max_stall_ms\":%.3f,\"warmup_skipped\":%s}\n",
         (unsigned long long)(b1 - b0), t1 - t0, (double)(b1 - b0) * 8 / (t1 - t0) / 1e9, max_stall * 1e3,
         skipped ? "true" : "false");
  struct linger lg = { 1, 0 };
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg); /* do not wait for the rest to drain */
  close(fd);
  return 0;
}

static int stream_from(struct sockaddr_in *a, double seconds) {
  static char buf[262144];
  int fd = tcp_connect("stream-from", a, 0);
  const double WARMUP = warmup_for(seconds);
  double start = now(), t0 = 0, t, max_stall = 0;
  uint64_t total = 0, all = 0;
  while ((t = now()) - start < seconds) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0) fail("stream-from", n == 0 ? "early EOF" : "read");
    double after = now();
    if (after - t > max_stall) max_stall = after - t;
    all += (uint64_t)n;
    if (t0 == 0) {
      if (t - start >= WARMUP) t0 = after;
    } else {
      total += (uint64_t)n;
    }
  }
  double t1 = now();
  /* A read blocked from before the warm-up mark to past the end: nothing was counted after
   * the warm-up (0 Gbit/s over an empty window), so the whole run is the window. */
  int skipped = t0 == 0 || total == 0;
  if (skipped) {
    t0 = start;
    total = all;
  }
  printf("{\"mode\":\"stream-from\",\"bytes\":%llu,\"seconds\":%.6f,\"gbps\":%.6f,\"max_stall_ms\":%.3f,\"warmup_skipped\":%s}\n",
         (unsigned long long)total, t1 - t0, (double)total * 8 / (t1 - t0) / 1e9, max_stall * 1e3,
         skipped ? "true" : "false");
  struct linger lg = { 1, 0 };
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  close(fd);
  return 0;
}

static int rr(struct sockaddr_in *a, double seconds) {
  int fd = tcp_connect("rr", a, 1);
  char c = 'r';
  long count = 0;
  double t0 = now(), t = t0;
  while (t - t0 < seconds) {
    for (int i = 0; i < 64; i++) {
      if (write(fd, &c, 1) != 1) fail("rr", "write");
      if (read(fd, &c, 1) != 1) fail("rr", "read");
    }
    count += 64;
    t = now();
  }
  printf("{\"mode\":\"rr\",\"transactions\":%ld,\"seconds\":%.6f,\"rate\":%.2f}\n", count, t - t0, count / (t - t0));
  close(fd);
  return 0;
}

static int crr(struct sockaddr_in *a, double seconds) {
  long count = 0;
  double t0 = now(), t = t0;
  while (t - t0 < seconds) {
    int fd = tcp_connect("crr", a, 1);
    char c = 'c';
    if (write(fd, &c, 1) != 1) fail("crr", "write");
    if (read(fd, &c, 1) != 1) fail("crr", "read");
    shutdown(fd, SHUT_WR);
    char tail[16];
    ssize_t n = read(fd, tail, sizeof tail); /* the server's FIN */
    if (n != 0) fail("crr", "waiting for the server's FIN");
    close(fd);
    count++;
    t = now();
  }
  printf("{\"mode\":\"crr\",\"connections\":%ld,\"seconds\":%.6f,\"rate\":%.2f}\n", count, t - t0, count / (t - t0));
  return 0;
}

static int udp_rr(struct sockaddr_in *a, double seconds) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) fail("udp-rr", "socket");
  if (connect(fd, (struct sockaddr *)a, sizeof *a) != 0) fail("udp-rr", "connect");
  struct timeval tv = { 0, 200000 };
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  char c = 'u';
  long count = 0, lost = 0;
  double t0 = now(), t = t0;
  while (t - t0 < seconds) {
    for (int i = 0; i < 64; i++) {
      if (send(fd, &c, 1, 0) != 1) fail("udp-rr", "send");
      if (recv(fd, &c, 1, 0) != 1) {
        if (errno != EAGAIN) fail("udp-rr", "recv");
        lost++;
        if (lost > 100) fail("udp-rr", "too many lost datagrams");
        continue;
      }
      count++;
    }
    t = now();
  }
  printf("{\"mode\":\"udp-rr\",\"transactions\":%ld,\"lost\":%ld,\"seconds\":%.6f,\"rate\":%.2f}\n", count, lost, t - t0, count / (t - t0));
  close(fd);
  return 0;
}

static uint16_t icmp_checksum(const void *data, size_t len) {
  const uint8_t *p = data;
  uint32_t sum = 0;
  for (size_t i = 0; i + 1 < len; i += 2) sum += (uint32_t)(p[i] << 8 | p[i + 1]);
  if (len & 1) sum += (uint32_t)p[len - 1] << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return htons((uint16_t)~sum);
}

static int cmp_double(const void *x, const void *y) {
  double a = *(const double *)x, b = *(const double *)y;
  return a < b ? -1 : a > b;
}

/* One ICMP echo with sequence `seq` on raw socket `fd`; its RTT in ms, or -1 when none came in 1 s.
   `blocking`: wait in recv() itself (the socket has a 1 s SO_RCVTIMEO), as the UDP kinds do,
   instead of poll() and then recv(): one system call fewer between the reply and its time. */
static double ping_once(const char *mode, int fd, struct sockaddr_in *a, uint16_t id, int seq, int blocking) {
  uint8_t pkt[64];
  memset(pkt, 0, sizeof pkt);
  struct icmphdr *h = (struct icmphdr *)pkt;
  h->type = ICMP_ECHO;
  h->un.echo.id = htons(id);
  h->un.echo.sequence = htons((uint16_t)seq);
  for (int i = 8; i < 64; i++) pkt[i] = (uint8_t)i;
  h->checksum = icmp_checksum(pkt, sizeof pkt);
  double t0 = now();
  if (sendto(fd, pkt, sizeof pkt, 0, (struct sockaddr *)a, sizeof *a) != (ssize_t)sizeof pkt) fail(mode, "sendto");
  for (;;) {
    struct pollfd pf = { fd, POLLIN, 0 };
    int remaining = (int)((t0 + 1.0 - now()) * 1000);
    if (remaining <= 0 || (!blocking && poll(&pf, 1, remaining) <= 0)) return -1;
    uint8_t in[1500];
    ssize_t n = recv(fd, in, sizeof in, 0);
    if (n < 0 && blocking) return -1;
    if (n < 28) continue;
    int ihl = (in[0] & 0x0f) * 4;
    struct icmphdr *r = (struct icmphdr *)(in + ihl);
    if (n < ihl + 8 || r->type != ICMP_ECHOREPLY || ntohs(r->un.echo.id) != id || ntohs(r->un.echo.sequence) != (uint16_t)seq) continue;
    return (now() - t0) * 1e3;
  }
}

static int ping(struct sockaddr_in *a, int count) {
  int fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMP);
  if (fd < 0) fail("ping", "socket(SOCK_RAW)");
  double *rtt = calloc((size_t)count, sizeof *rtt);
  uint16_t id = (uint16_t)getpid();
  int got = 0, lost = 0;
  for (int seq = 0; seq < count; seq++) {
    double ms = ping_once("ping", fd, a, id, seq, 0);
    if (ms < 0) {
      if (++lost > 10) fail("ping", "too many lost echoes");
      continue;
    }
    rtt[got++] = ms;
  }
  qsort(rtt, (size_t)got, sizeof *rtt, cmp_double);
  printf("{\"mode\":\"ping\",\"replies\":%d,\"lost\":%d,\"medianMs\":%.6f,\"minMs\":%.6f}\n", got, lost,
         got ? rtt[got / 2] : -1.0, got ? rtt[0] : -1.0);
  return 0;
}

/*
 * latency: exchanges spaced INTERVAL_MS apart on an absolute schedule (a slow reply does not
 * shift the ones after it), so the server sees the same idle time before every request; with
 * 0 they go back to back. Every exchange is timed on its own.
 */
static int latency(const char *kind, struct sockaddr_in *a, int count, double interval_ms) {
  int k = strcmp(kind, "ping") == 0 ? 0 : strcmp(kind, "udp") == 0 ? 1 : strcmp(kind, "tcp") == 0 ? 2 : strcmp(kind, "ping-recv") == 0 ? 3 : -1;
  if (k < 0) {
    printf("{\"mode\":\"latency\",\"error\":\"unknown kind %s\"}\n", kind);
    return 2;
  }
  int fd;
  if (k == 0 || k == 3) {
    fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMP);
    if (fd < 0) fail("latency", "socket(SOCK_RAW)");
    if (k == 3) {
      struct timeval tv = { 1, 0 };
      setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    }
  } else if (k == 1) {
    fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) fail("latency", "socket");
    if (connect(fd, (struct sockaddr *)a, sizeof *a) != 0) fail("latency", "connect");
    struct timeval tv = { 1, 0 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  } else {
    fd = tcp_connect("latency", a, 1);
  }
  double *rtt = calloc((size_t)count, sizeof *rtt);
  uint16_t id = (uint16_t)getpid();
  int got = 0, lost = 0;
  struct timespec next;
  clock_gettime(CLOCK_MONOTONIC, &next);
  long step_ns = (long)(interval_ms * 1e6);
  for (int i = 0; i < count; i++) {
    if (step_ns > 0) {
      next.tv_nsec += step_ns;
      while (next.tv_nsec >= 1000000000L) {
        next.tv_nsec -= 1000000000L;
        next.tv_sec++;
      }
      while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL) == EINTR) {
      }
    }
    double ms = -1;
    if (k == 0 || k == 3) {
      ms = ping_once("latency", fd, a, id, i, k == 3);
    } else {
      char c = 'l';
      double t0 = now();
      if (send(fd, &c, 1, 0) != 1) fail("latency", "send");
      ssize_t n = recv(fd, &c, 1, 0);
      if (n == 1) ms = (now() - t0) * 1e3;
      else if (k == 2 || errno != EAGAIN) fail("latency", "recv");
    }
    if (ms < 0) {
      if (++lost > 10) fail("latency", "too many lost replies");
      continue;
    }
    rtt[got++] = ms;
  }
  if (got == 0) fail("latency", "no replies");
  /* KCLIENT_RTT_FILE: every exchange's RTT in ms, in the order sent (to see when the slow ones
     happen), before the percentiles sort them. */
  const char *dump = getenv("KCLIENT_RTT_FILE");
  if (dump != NULL && *dump != '\0') {
    FILE *f = fopen(dump, "w");
    if (f != NULL) {
      for (int i = 0; i < got; i++) fprintf(f, "%.6f\n", rtt[i]);
      fclose(f);
    }
  }
  qsort(rtt, (size_t)got, sizeof *rtt, cmp_double);
  int p99 = (int)((double)got * 0.99);
  if (p99 >= got) p99 = got - 1;
  printf("{\"mode\":\"latency\",\"kind\":\"%s\",\"intervalMs\":%g,\"replies\":%d,\"lost\":%d,"
         "\"p50Ms\":%.6f,\"p99Ms\":%.6f,\"minMs\":%.6f,\"maxMs\":%.6f}\n",
         kind, interval_ms, got, lost, rtt[got / 2], rtt[p99], rtt[0], rtt[got - 1]);
  close(fd);
  return 0;
}

/* scale: N connections open at once, each echoing its own 8-byte tag. */
typedef struct {
  int fd;
  int state; /* 0 connecting, 1 sent, 2 verified */
  uint8_t got[8];
  int have;
} sconn_t;

static void tag_of(int i, uint8_t tag[8]) {
  uint32_t x = (uint32_t)i * 2654435761u;
  memcpy(tag, "rx", 2);
  tag[2] = (uint8_t)(i >> 16);
  tag[3] = (uint8_t)(i >> 8);
  tag[4] = (uint8_t)i;
  tag[5] = (uint8_t)(x >> 24);
  tag[6] = (uint8_t)(x >> 16);
  tag[7] = (uint8_t)(x >> 8);
}

static int scale(struct sockaddr_in *a, int n, double seconds) {
  struct rlimit rl = { (rlim_t)n + 256, (rlim_t)n + 256 };
  if (setrlimit(RLIMIT_NOFILE, &rl) != 0) fail("scale", "setrlimit");
  sconn_t *cs = calloc((size_t)n, sizeof *cs);
  int ep = epoll_create1(EPOLL_CLOEXEC);
  int opened = 0, verified = 0, failed = 0, inflight = 0;
  const int window = 64; /* connects in progress at once: stays under the listener's backlog */
  double t0 = now(), deadline = t0 + seconds;
  struct epoll_event evs[256];
  while (verified + failed < n && now() < deadline) {
    while (opened < n && inflight < window) {
      sconn_t *c = &cs[opened];
      c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (c->fd < 0) fail("scale", "socket");
      int one = 1;
      setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      if (connect(c->fd, (struct sockaddr *)a, sizeof *a) != 0 && errno != EINPROGRESS) fail("scale", "connect");
      struct epoll_event ev = { .events = EPOLLOUT | EPOLLIN, .data.u32 = (uint32_t)opened };
      epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
      opened++;
      inflight++;
    }
    int k = epoll_wait(ep, evs, 256, 100);
    for (int e = 0; e < k; e++) {
      int i = (int)evs[e].data.u32;
      sconn_t *c = &cs[i];
      if (c->state == 2) continue;
      if (evs[e].events & (EPOLLERR | EPOLLHUP)) {
        c->state = 2;
        failed++;
        inflight--;
        continue;
      }
      if (c->state == 0 && (evs[e].events & EPOLLOUT)) {
        uint8_t tag[8];
        tag_of(i, tag);
        if (write(c->fd, tag, 8) != 8) {
          c->state = 2;
          failed++;
          inflight--;
          continue;
        }
        c->state = 1;
        struct epoll_event ev = { .events = EPOLLIN, .data.u32 = (uint32_t)i };
        epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
      }
      if (c->state == 1 && (evs[e].events & EPOLLIN)) {
        ssize_t r = read(c->fd, c->got + c->have, (size_t)(8 - c->have));
        if (r <= 0) {
          if (r < 0 && errno == EAGAIN) continue;
          c->state = 2;
          failed++;
          inflight--;
          continue;
        }
        c->have += (int)r;
        if (c->have == 8) {
          uint8_t tag[8];
          tag_of(i, tag);
          c->state = 2;
          inflight--;
          if (memcmp(tag, c->got, 8) == 0) {
            verified++;
            epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL); /* stays open, idle */
          } else {
            failed++;
          }
        }
      }
    }
  }
  double t1 = now();
  /* Every verified connection is still open here: the caller samples the server's memory. */
  printf("{\"mode\":\"scale\",\"requested\":%d,\"opened\":%d,\"verified\":%d,\"failed\":%d,\"seconds\":%.6f}\n",
         n, opened, verified, failed, t1 - t0);
  fflush(stdout);
  /* Hold them until told (a line on stdin, or EOF), bounded. */
  struct pollfd pf = { 0, POLLIN, 0 };
  poll(&pf, 1, 30000);
  for (int i = 0; i < opened; i++) close(cs[i].fd);
  return verified == n ? 0 : 1;
}

/* The lossy-path modes: a path that drops 5 % of the frames can stall for seconds (a lost SYN
 * costs 1 s, a lost retransmission an RTO with backoff), so connect waits long, and reads and
 * writes wake up every 200 ms only to check the deadline. */
static int tcp_connect_patient(const char *mode, struct sockaddr_in *a, const char *cc) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) fail(mode, "socket");
  /* Per socket: a namespace's default may only be one of the host's "allowed" algorithms, a
   * socket of a privileged process may use any the kernel has. */
  if (cc != NULL && setsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, cc, strlen(cc)) != 0) fail(mode, "TCP_CONGESTION");
  struct timeval tv = { 15, 0 };
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  if (connect(fd, (struct sockaddr *)a, sizeof *a) != 0) fail(mode, "connect");
  struct timeval tick = { 0, 200000 };
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tick, sizeof tick);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tick, sizeof tick);
  return fd;
}

/* What Linux negotiated on this connection and where its sender stands, from TCP_INFO (still
 * readable after a reset: the figures are those of the connection's last moment). */
static void print_tcp_info(int fd) {
  struct tcp_info info;
  socklen_t len = sizeof info;
  memset(&info, 0, sizeof info);
  getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len);
  char cc[32] = "";
  socklen_t cclen = sizeof cc - 1;
  getsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, cc, &cclen);
  printf("\"congestionControl\":\"%s\",", cc);
  printf("\"sack\":%d,\"timestamps\":%d,\"windowScale\":%d,\"rttMs\":%.3f,\"cwnd\":%u,\"ssthresh\":%u,\"mss\":%u",
         (info.tcpi_options & TCPI_OPT_SACK) != 0, (info.tcpi_options & TCPI_OPT_TIMESTAMPS) != 0,
         (info.tcpi_options & TCPI_OPT_WSCALE) != 0, info.tcpi_rtt / 1000.0, info.tcpi_snd_cwnd,
         info.tcpi_snd_ssthresh, info.tcpi_snd_mss);
}

static void reset_close(int fd) {
  struct linger lg = { 1, 0 };
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg); /* RST: the peer stops at once */
  close(fd);
}

static int send_for(struct sockaddr_in *a, double seconds, const char *cc) {
  static char buf[65536];
  memset(buf, 'x', sizeof buf);
  int fd = tcp_connect_patient("send-for", a, cc);
  double start = now();
  uint64_t written = 0;
  int reset = 0;
  while (now() - start < seconds) {
    ssize_t n = send(fd, buf, sizeof buf, MSG_NOSIGNAL);
    if (n >= 0) {
      written += (uint64_t)n;
    } else if (errno == ECONNRESET || errno == EPIPE) {
      reset = 1; /* the receiver has measured and reset the connection: done */
      break;
    } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
      fail("send-for", "send");
    }
  }
  printf("{\"mode\":\"send-for\",\"bytes\":%llu,\"seconds\":%.6f,\"reset\":%d,",
         (unsigned long long)written, now() - start, reset);
  print_tcp_info(fd);
  printf("}\n");
  reset_close(fd);
  return 0;
}

static int recv_for(struct sockaddr_in *a, double seconds) {
  static char buf[262144];
  int fd = tcp_connect_patient("recv-for", a, NULL);
  double connected = now(), t0 = 0, last = 0, t;
  uint64_t total = 0;
  int early = 0;
  /* Bounded even if no byte ever comes: the first byte must arrive within 30 s. */
  while ((t = now()) - (t0 == 0 ? connected : t0) < (t0 == 0 ? 30 : seconds)) {
    struct pollfd p = { .fd = fd, .events = POLLIN };
    double left = (t0 == 0 ? connected + 30 : t0 + seconds) - t;
    int r = poll(&p, 1, (int)(left * 1000) + 1);
    if (r < 0 && errno != EINTR) fail("recv-for", "poll");
    if (r <= 0) continue;
    t = now();
    if (t0 != 0 && t - t0 >= seconds) break; /* arrived after the deadline: not counted */
    ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) continue;
    if (n <= 0) {
      early = 1;
      break;
    }
    if (t0 == 0) t0 = t;
    total += (uint64_t)n;
    last = t;
  }
  double span = t0 == 0 ? 0 : (early ? last - t0 : seconds);
  printf("{\"mode\":\"recv-for\",\"bytes\":%llu,\"seconds\":%.6f,\"mbps\":%.6f,\"firstByteMs\":%.3f,\"early\":%d,",
         (unsigned long long)total, span, span > 0 ? (double)total * 8 / span / 1e6 : 0,
         t0 == 0 ? -1 : (t0 - connected) * 1000, early);
  print_tcp_info(fd);
  printf("}\n");
  reset_close(fd);
  return 0;
}

int main(int argc, char **argv) {
  signal(SIGPIPE, SIG_IGN);
  if (argc < 4) {
    fprintf(stderr, "usage: kclient MODE HOST PORT|COUNT [SECONDS]\n");
    return 2;
  }
  const char *mode = argv[1];
  if (strcmp(mode, "latency") == 0) {
    if (argc < 7) {
      fprintf(stderr, "usage: kclient latency ping|ping-recv|udp|tcp HOST PORT COUNT INTERVAL_MS\n");
      return 2;
    }
    struct sockaddr_in la = addr_of(argv[3], atoi(argv[4]));
    int count = atoi(argv[5]);
    double interval = atof(argv[6]);
    /* Spaced up to a minute apart (idle-probe's quiet periods are seconds long). */
    if (count < 1 || count > 100000 || interval < 0 || interval > 60000) {
      fprintf(stderr, "kclient latency: COUNT 1..100000 and INTERVAL_MS 0..60000\n");
      return 2;
    }
    return latency(argv[2], &la, count, interval);
  }
  if (strcmp(mode, "ping") == 0) {
    struct sockaddr_in a = addr_of(argv[2], 0);
    int count = atoi(argv[3]);
    if (count < 1 || count > 100000) return 2;
    return ping(&a, count);
  }
  struct sockaddr_in a = addr_of(argv[2], atoi(argv[3]));
  if (strcmp(mode, "scale") == 0) {
    if (argc < 6) return 2;
    int n = atoi(argv[4]);
    double s = atof(argv[5]);
    if (n < 1 || n > 60000 || s <= 0 || s > 600) return 2;
    return scale(&a, n, s);
  }
  if (argc < 5) return 2;
  double seconds = atof(argv[4]);
  if (seconds <= 0 || seconds > 60) return 2;
  if (strcmp(mode, "stream-to") == 0) return stream_to(&a, seconds);
  if (strcmp(mode, "stream-from") == 0) return stream_from(&a, seconds);
  if (strcmp(mode, "rr") == 0) return rr(&a, seconds);
  if (strcmp(mode, "crr") == 0) return crr(&a, seconds);
  if (strcmp(mode, "udp-rr") == 0) return udp_rr(&a, seconds);
  if (strcmp(mode, "send-for") == 0) return send_for(&a, seconds, argc > 5 ? argv[5] : NULL);
  if (strcmp(mode, "recv-for") == 0) return recv_for(&a, seconds);
  fprintf(stderr, "unknown mode %s\n", mode);
  return 2;
}
