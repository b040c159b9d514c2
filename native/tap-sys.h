/*
 * The system calls behind a TAP device: open /dev/net/tun (optionally inside a named network
 * namespace), and the ioctls for MAC, MTU, flags and name. No N-API here, so this file can be
 * read (and reasoned about) as plain Linux code.
 */
#ifndef RX_TAP_SYS_H
#define RX_TAP_SYS_H

#include <net/if.h>
#include <stdint.h>

/* Why a call failed: errno, the system call, and a short description of what we were doing. */
typedef struct {
  int err;
  const char *syscall;
  char detail[208];
} rx_tap_error_t;

typedef struct {
  int fd;                /* the TAP queue: O_NONBLOCK, O_CLOEXEC */
  int ctl;               /* AF_INET datagram socket in the device's namespace, for SIOC* ioctls */
  char name[IFNAMSIZ];   /* the name the kernel gave (differs from the request for "tap%d") */
  int existed;           /* 1 when we attached to a device that was there before */
} rx_tap_open_t;

/*
 * Opens (attaching or creating) TAP device `name` with IFF_TAP | IFF_NO_PI, or a TUN device
 * (IFF_TUN | IFF_NO_PI: bare IP packets, no Ethernet header) when `tun` is set, plus
 * IFF_VNET_HDR when `vnet_hdr` is set (every read and write then starts with a 10-byte
 * virtio_net_hdr). When
 * `netns` is not NULL, the calling thread enters /var/run/netns/<netns> for the open and the
 * control socket and returns to its own namespace before this function returns. Returns 0, or -1
 * with `*e` filled.
 */
int rx_tap_open(const char *name, const char *netns, int vnet_hdr, int tun, rx_tap_open_t *out, rx_tap_error_t *e);

/* TUNSETOFFLOAD: which offloads (TUN_F_CSUM, TUN_F_TSO4, ...) the reader takes; needs IFF_VNET_HDR. */
int rx_tap_set_offload(int fd, unsigned flags, rx_tap_error_t *e);

/* The device's current name (follows renames), through TUNGETIFF on the queue fd. */
int rx_tap_current_name(int fd, char name[IFNAMSIZ], rx_tap_error_t *e);

/* MAC through the queue fd itself (tun answers SIOCGIFHWADDR/SIOCSIFHWADDR on it). */
int rx_tap_get_mac(int fd, uint8_t mac[6], rx_tap_error_t *e);
int rx_tap_set_mac(int fd, const uint8_t mac[6], rx_tap_error_t *e);

/* MTU, flags and name through the control socket. */
int rx_tap_get_mtu(int fd, int ctl, int *mtu, rx_tap_error_t *e);
int rx_tap_set_mtu(int fd, int ctl, int mtu, rx_tap_error_t *e);
int rx_tap_get_flags(int fd, int ctl, int *flags, rx_tap_error_t *e);
int rx_tap_set_up(int fd, int ctl, int up, rx_tap_error_t *e);
int rx_tap_rename(int fd, int ctl, const char *new_name, rx_tap_error_t *e);

/* The socket send buffer of the queue (TUNSETSNDBUF): how much the kernel holds of our writes. */
int rx_tap_set_sndbuf(int fd, int bytes, rx_tap_error_t *e);

#endif
