/*
 * What tap-floor.c and tap-ladder.c share: turning a request frame around in place (ARP, ICMP
 * echo, UDP to one port) and attaching to a TAP device. Header-only: each program is one
 * translation unit compiled on its own by build.ts.
 */
#ifndef RX_TAP_TURN_H
#define RX_TAP_TURN_H
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

static int parse_mac(const char *s, uint8_t mac[6]) {
  unsigned v[6];
  if (sscanf(s, "%x:%x:%x:%x:%x:%x", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]) != 6) return -1;
  for (int i = 0; i < 6; i++) mac[i] = (uint8_t)v[i];
  return 0;
}

static void swap(uint8_t *a, uint8_t *b, size_t n) {
  uint8_t t[6];
  memcpy(t, a, n);
  memcpy(a, b, n);
  memcpy(b, t, n);
}

/*
 * Turns a request around in place; returns the length to write back, or 0 to drop it.
 * Offsets: Ethernet dst 0, src 6, type 12; IPv4 from 14 (src +12, dst +16, protocol +9);
 * ARP from 14 (op +6, sha +8, spa +14, tha +18, tpa +24).
 */
static size_t turn_around(uint8_t *f, size_t len, const uint8_t ip[4], const uint8_t mac[6], uint16_t port) {
  if (len < 42) return 0;
  uint16_t type = (uint16_t)(f[12] << 8 | f[13]);
  if (type == 0x0806) {
    uint8_t *a = f + 14;
    if (a[6] != 0 || a[7] != 1 || memcmp(a + 24, ip, 4) != 0) return 0; /* a request for us */
    memcpy(f, f + 6, 6);
    memcpy(f + 6, mac, 6);
    a[7] = 2;
    memcpy(a + 18, a + 8, 10); /* tha, tpa <- sha, spa */
    memcpy(a + 8, mac, 6);
    memcpy(a + 14, ip, 4);
    return len;
  }
  if (type != 0x0800) return 0;
  uint8_t *h = f + 14;
  if (h[0] != 0x45 || memcmp(h + 16, ip, 4) != 0) return 0; /* no options, to us */
  uint8_t *l4 = h + 20;
  if (h[9] == 1) {
    if (len < 14 + 20 + 8 || l4[0] != 8) return 0; /* echo request */
    l4[0] = 0;
    /* The type went from 8 to 0: the checksum grows by 0x0800 (one's complement). */
    uint32_t sum = (uint32_t)(l4[2] << 8 | l4[3]) + 0x0800;
    sum = (sum & 0xffff) + (sum >> 16);
    l4[2] = (uint8_t)(sum >> 8);
    l4[3] = (uint8_t)sum;
  } else if (h[9] == 17) {
    if ((uint16_t)(l4[2] << 8 | l4[3]) != port) return 0;
    swap(l4, l4 + 2, 2);
  } else {
    return 0;
  }
  swap(h + 12, h + 16, 4);
  swap(f, f + 6, 6);
  memcpy(f + 6, mac, 6);
  return len;
}

static int open_tap(const char *name, int nonblocking) {
  int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | (nonblocking ? O_NONBLOCK : 0));
  if (fd < 0) return -1;
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
  strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
  if (ioctl(fd, TUNSETIFF, &ifr) != 0) return -1;
  return fd;
}

#endif
