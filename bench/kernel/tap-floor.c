/*
 * The floor for request/response over a TAP device: the least work any user-space stack on a
 * TAP can do per transaction. It attaches to a TAP device (plain frames, no virtio-net header)
 * and answers, for one IPv4 address, ARP requests, ICMP echo requests and UDP datagrams to the
 * echo port by turning the frame around in place: swap the Ethernet and IP addresses (and the
 * UDP ports), set the ICMP type, patch the ICMP checksum incrementally (RFC 1624; swapping
 * addresses leaves the IP and UDP checksums as they were), and write the same bytes back. One
 * read() and one write() per request, no parsing beyond the fields it checks, no allocation.
 * Everything else is dropped. bench/kernel/floor-bench.ts measures it next to the stack.
 *
 * Usage: tap-floor TAP IPV4 MAC UDP_PORT [block|epoll|epoll1]
 *   block  (default) a blocking read() per frame: one system call per frame received
 *   epoll  non-blocking fd, epoll_wait() then read() until EAGAIN, the shape of an event loop
 *          (what libuv does for the stack: a wait, the reads, the EAGAIN read that ends them)
 *   epoll1 the same, but one read() per wake-up and no EAGAIN read: level-triggered epoll
 *          reports the fd again at once while frames wait (what the EAGAIN read costs)
 * Prints "ready" once attached; runs until killed (SIGTERM/SIGINT), then prints one JSON line
 * with the frames it answered. Run it inside a network namespace (`ip netns exec NS ...`): it
 * attaches to the TAP device of the namespace it runs in and configures nothing.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "tap-turn.h"

static volatile sig_atomic_t stopping;
static long answered, ignored;

static void on_signal(int sig) {
  (void)sig;
  stopping = 1;
}

static void answer(int fd, uint8_t *f, ssize_t n, const uint8_t ip[4], const uint8_t mac[6], uint16_t port) {
  size_t out = turn_around(f, (size_t)n, ip, mac, port);
  if (out == 0) {
    ignored++;
    return;
  }
  if (write(fd, f, out) == (ssize_t)out) answered++;
}

int main(int argc, char **argv) {
  if (argc < 5) {
    fprintf(stderr, "usage: tap-floor TAP IPV4 MAC UDP_PORT [block|epoll|epoll1]\n");
    return 2;
  }
  uint8_t ip[4], mac[6];
  if (inet_pton(AF_INET, argv[2], ip) != 1 || parse_mac(argv[3], mac) != 0) {
    fprintf(stderr, "tap-floor: bad address %s or MAC %s\n", argv[2], argv[3]);
    return 2;
  }
  uint16_t port = (uint16_t)atoi(argv[4]);
  int use_epoll = argc > 5 && strncmp(argv[5], "epoll", 5) == 0;
  int one_read = argc > 5 && strcmp(argv[5], "epoll1") == 0;
  /* No SA_RESTART: a signal ends the blocking read or epoll_wait with EINTR. */
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);

  int fd = open_tap(argv[1], use_epoll);
  if (fd < 0) {
    perror("tap-floor: attaching to the TAP device");
    return 1;
  }
  static uint8_t frame[65536 + 64];
  printf("ready\n");
  fflush(stdout);
  if (!use_epoll) {
    while (!stopping) {
      ssize_t n = read(fd, frame, sizeof frame);
      if (n < 0) {
        if (errno == EINTR) continue;
        perror("tap-floor: read");
        return 1;
      }
      answer(fd, frame, n, ip, mac, port);
    }
  } else {
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = { .events = EPOLLIN };
    if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
      perror("tap-floor: epoll");
      return 1;
    }
    while (!stopping) {
      struct epoll_event got;
      if (epoll_wait(ep, &got, 1, -1) < 0) {
        if (errno == EINTR) continue;
        perror("tap-floor: epoll_wait");
        return 1;
      }
      for (;;) {
        ssize_t n = read(fd, frame, sizeof frame);
        if (n < 0) {
          if (errno == EINTR) continue;
          if (errno == EAGAIN) break;
          perror("tap-floor: read");
          return 1;
        }
        answer(fd, frame, n, ip, mac, port);
        if (one_read) break;
      }
    }
  }
  printf("{\"answered\":%ld,\"ignored\":%ld}\n", answered, ignored);
  return 0;
}
