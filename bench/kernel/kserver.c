/*
 * The kernel-side reference server for the benchmarks: echo (RFC 862), discard (RFC 863) and
 * chargen (RFC 864) over TCP and echo over UDP, on the Linux kernel's own stack. One thread,
 * epoll, non-blocking sockets: the cheapest user-space server we can put in front of the
 * kernel, so the figures measure the kernel's network stack.
 *
 * Usage: kserver ECHO_PORT DISCARD_PORT CHARGEN_PORT UDP_ECHO_PORT   (0 = off)
 * Prints "ready" once every socket listens; runs until killed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

enum kind { L_ECHO, L_DISCARD, L_CHARGEN, U_ECHO, C_ECHO, C_DISCARD, C_CHARGEN };

typedef struct conn {
  int fd;
  enum kind kind;
  /* echo: bytes read but not yet written back */
  char *pending;
  size_t pending_len, pending_off;
  size_t chargen_off;
} conn_t;

#define BUF 65536
static char buf[BUF];
static char pattern[BUF + 74];
static int ep;

static void die(const char *what) {
  perror(what);
  exit(1);
}

static conn_t *add(int fd, enum kind kind, uint32_t events) {
  conn_t *c = calloc(1, sizeof *c);
  if (c == NULL) die("calloc");
  c->fd = fd;
  c->kind = kind;
  struct epoll_event ev = { .events = events, .data.ptr = c };
  if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) die("epoll_ctl");
  return c;
}

static void drop(conn_t *c) {
  close(c->fd); /* also removes it from the epoll set */
  free(c->pending);
  free(c);
}

static int listen_on(int type, int port) {
  int fd = socket(AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) die("socket");
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr.s_addr = htonl(INADDR_ANY) };
  if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0) die("bind");
  if (type == SOCK_STREAM && listen(fd, 4096) != 0) die("listen");
  return fd;
}

static void set_events(conn_t *c, uint32_t events) {
  struct epoll_event ev = { .events = events, .data.ptr = c };
  epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

static void on_accept(conn_t *l) {
  for (;;) {
    int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (l->kind == L_ECHO) add(fd, C_ECHO, EPOLLIN);
    else if (l->kind == L_DISCARD) add(fd, C_DISCARD, EPOLLIN);
    else add(fd, C_CHARGEN, EPOLLIN | EPOLLOUT);
  }
}

/* Writes what echo holds; returns -1 when the connection died. */
static int flush_echo(conn_t *c) {
  while (c->pending_off < c->pending_len) {
    ssize_t n = write(c->fd, c->pending + c->pending_off, c->pending_len - c->pending_off);
    if (n < 0) return errno == EAGAIN ? 0 : -1;
    c->pending_off += (size_t)n;
  }
  c->pending_len = c->pending_off = 0;
  return 0;
}

static void on_echo(conn_t *c, uint32_t events) {
  if (events & EPOLLOUT) {
    if (flush_echo(c) < 0) return drop(c);
    if (c->pending_len == 0) set_events(c, EPOLLIN);
    return;
  }
  for (;;) {
    ssize_t n = read(c->fd, buf, BUF);
    if (n == 0) return drop(c);
    if (n < 0) {
      if (errno == EAGAIN) return;
      return drop(c);
    }
    ssize_t w = write(c->fd, buf, (size_t)n);
    if (w < 0 && errno != EAGAIN) return drop(c);
    if (w < 0) w = 0;
    if (w < n) {
      /* The peer is not reading: hold the rest and stop reading until it is written. */
      c->pending = realloc(c->pending, (size_t)(n - w));
      memcpy(c->pending, buf + w, (size_t)(n - w));
      c->pending_len = (size_t)(n - w);
      c->pending_off = 0;
      set_events(c, EPOLLOUT);
      return;
    }
    if (n < BUF) return;
  }
}

static void on_discard(conn_t *c) {
  for (;;) {
    ssize_t n = read(c->fd, buf, BUF);
    if (n == 0) return drop(c);
    if (n < 0) {
      if (errno != EAGAIN) drop(c);
      return;
    }
  }
}

static void on_chargen(conn_t *c, uint32_t events) {
  if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
    ssize_t n = read(c->fd, buf, BUF);
    if (n == 0 || (n < 0 && errno != EAGAIN)) return drop(c);
  }
  if (events & EPOLLOUT) {
    for (;;) {
      ssize_t n = write(c->fd, pattern + c->chargen_off, BUF);
      if (n < 0) {
        if (errno != EAGAIN) drop(c);
        return;
      }
      c->chargen_off = (c->chargen_off + (size_t)n) % 74;
    }
  }
}

static void on_udp(conn_t *c) {
  for (;;) {
    struct sockaddr_in from;
    socklen_t len = sizeof from;
    ssize_t n = recvfrom(c->fd, buf, BUF, 0, (struct sockaddr *)&from, &len);
    if (n < 0) return;
    sendto(c->fd, buf, (size_t)n, 0, (struct sockaddr *)&from, len);
  }
}

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: kserver ECHO DISCARD CHARGEN UDP_ECHO (0 = off)\n");
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  struct rlimit rl = { 65536, 65536 };
  setrlimit(RLIMIT_NOFILE, &rl);
  /* RFC 864's rotating 72-character lines, long enough to write BUF bytes from any offset. */
  for (size_t i = 0; i < sizeof pattern; i++) {
    size_t line = i / 74, col = i % 74;
    pattern[i] = col == 72 ? '\r' : col == 73 ? '\n' : (char)(' ' + 1 + (line + col) % 94);
  }
  ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) die("epoll_create1");
  int ports[4];
  for (int i = 0; i < 4; i++) ports[i] = atoi(argv[i + 1]);
  if (ports[0]) add(listen_on(SOCK_STREAM, ports[0]), L_ECHO, EPOLLIN);
  if (ports[1]) add(listen_on(SOCK_STREAM, ports[1]), L_DISCARD, EPOLLIN);
  if (ports[2]) add(listen_on(SOCK_STREAM, ports[2]), L_CHARGEN, EPOLLIN);
  if (ports[3]) add(listen_on(SOCK_DGRAM, ports[3]), U_ECHO, EPOLLIN);
  printf("ready\n");
  fflush(stdout);
  struct epoll_event evs[256];
  for (;;) {
    int n = epoll_wait(ep, evs, 256, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      die("epoll_wait");
    }
    for (int i = 0; i < n; i++) {
      conn_t *c = evs[i].data.ptr;
      uint32_t e = evs[i].events;
      switch (c->kind) {
        case L_ECHO: case L_DISCARD: case L_CHARGEN: on_accept(c); break;
        case U_ECHO: on_udp(c); break;
        case C_ECHO: on_echo(c, e); break;
        case C_DISCARD: on_discard(c); break;
        case C_CHARGEN: on_chargen(c, e); break;
      }
    }
  }
}
