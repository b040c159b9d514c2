#define _GNU_SOURCE
/* <net/if.h> (through tap-sys.h) before the <linux/...> headers, or struct ifreq is defined twice. */
#include "tap-sys.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_arp.h>
#include <linux/if_tun.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

static int fail(rx_tap_error_t *e, int err, const char *syscall, const char *fmt, const char *arg) {
  e->err = err;
  e->syscall = syscall;
  snprintf(e->detail, sizeof e->detail, fmt, arg);
  return -1;
}

static int name_ok(const char *name) {
  size_t n = strlen(name);
  return n > 0 && n < IFNAMSIZ;
}

/* A namespace name is a file name under /var/run/netns: no path tricks ("..", "/"). */
static int netns_name_ok(const char *netns) {
  size_t n = strlen(netns);
  return n > 0 && n < 128 && strchr(netns, '/') == NULL && strcmp(netns, ".") != 0 &&
         strcmp(netns, "..") != 0;
}

static int open_own_netns(void) {
  int fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    char path[64];
    snprintf(path, sizeof path, "/proc/self/task/%ld/ns/net", (long)gettid());
    fd = open(path, O_RDONLY | O_CLOEXEC);
  }
  return fd;
}

/*
 * Returning to our own namespace cannot fail in practice (we held the rights to leave it), but
 * if it did, this thread would open every later socket of the program in the wrong namespace:
 * a silent network-safety breach. Stopping the process is the only safe answer to that.
 */
static void restore_netns(int own) {
  if (setns(own, CLONE_NEWNET) != 0 && setns(own, CLONE_NEWNET) != 0) {
    fprintf(stderr, "rx_tap: cannot return to the original network namespace (%s); aborting\n",
            strerror(errno));
    abort();
  }
}

/* Open the queue and the control socket in whatever namespace this thread is in now. */
static int open_here(const char *name, int vnet_hdr, int tun, rx_tap_open_t *out, rx_tap_error_t *e) {
  struct ifreq ifr;
  out->existed = strchr(name, '%') == NULL && if_nametoindex(name) != 0;

  int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return fail(e, errno, "open", "cannot open /dev/net/tun%s", "");

  short base = (tun ? IFF_TUN : IFF_TAP) | IFF_NO_PI | (vnet_hdr ? IFF_VNET_HDR : 0);
  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = base;
  strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
  int rc = ioctl(fd, TUNSETIFF, &ifr);
  if (rc != 0 && errno == EINVAL && out->existed) {
    /* An existing multi-queue device only accepts queues that ask for IFF_MULTI_QUEUE too. */
    ifr.ifr_flags = base | IFF_MULTI_QUEUE;
    rc = ioctl(fd, TUNSETIFF, &ifr);
    if (rc != 0) errno = EINVAL; /* report the first failure: the device is not a TAP we can use */
  }
  if (rc != 0) {
    int err = errno;
    close(fd);
    return fail(e, err, "ioctl", tun ? "TUNSETIFF %s (attach or create TUN device)" : "TUNSETIFF %s (attach or create TAP device)", name);
  }

  int ctl = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (ctl < 0) {
    int err = errno;
    close(fd);
    return fail(e, err, "socket", "control socket for %s", name);
  }
  out->fd = fd;
  out->ctl = ctl;
  memcpy(out->name, ifr.ifr_name, IFNAMSIZ);
  out->name[IFNAMSIZ - 1] = '\0';
  return 0;
}

int rx_tap_open(const char *name, const char *netns, int vnet_hdr, int tun, rx_tap_open_t *out, rx_tap_error_t *e) {
  out->fd = -1;
  out->ctl = -1;
  if (!name_ok(name)) return fail(e, EINVAL, "ioctl", "bad interface name \"%s\" (1 to 15 bytes)", name);
  if (netns == NULL) return open_here(name, vnet_hdr, tun, out, e);

  if (!netns_name_ok(netns)) return fail(e, EINVAL, "setns", "bad network namespace name \"%s\"", netns);
  char path[160]; /* netns_name_ok keeps the name under 128 bytes */
  snprintf(path, sizeof path, "/var/run/netns/%s", netns);
  int target = open(path, O_RDONLY | O_CLOEXEC);
  if (target < 0) return fail(e, errno, "open", "no network namespace %s", path);
  int own = open_own_netns();
  if (own < 0) {
    int err = errno;
    close(target);
    return fail(e, err, "open", "cannot open our own namespace%s", "");
  }
  if (setns(target, CLONE_NEWNET) != 0) {
    int err = errno;
    close(target);
    close(own);
    return fail(e, err, "setns", "cannot enter network namespace %s", netns);
  }
  int rc = open_here(name, vnet_hdr, tun, out, e);
  restore_netns(own);
  close(target);
  close(own);
  return rc;
}

int rx_tap_current_name(int fd, char name[IFNAMSIZ], rx_tap_error_t *e) {
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  if (ioctl(fd, TUNGETIFF, &ifr) != 0) return fail(e, errno, "ioctl", "TUNGETIFF%s", "");
  memcpy(name, ifr.ifr_name, IFNAMSIZ);
  name[IFNAMSIZ - 1] = '\0';
  return 0;
}

int rx_tap_get_mac(int fd, uint8_t mac[6], rx_tap_error_t *e) {
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  if (ioctl(fd, SIOCGIFHWADDR, &ifr) != 0) return fail(e, errno, "ioctl", "SIOCGIFHWADDR%s", "");
  memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
  return 0;
}

int rx_tap_set_mac(int fd, const uint8_t mac[6], rx_tap_error_t *e) {
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_hwaddr.sa_family = ARPHRD_ETHER;
  memcpy(ifr.ifr_hwaddr.sa_data, mac, 6);
  if (ioctl(fd, SIOCSIFHWADDR, &ifr) != 0) return fail(e, errno, "ioctl", "SIOCSIFHWADDR%s", "");
  return 0;
}

/* Fills ifr_name with the device's current name, so a rename elsewhere does not lose us. */
static int named_ifreq(int fd, struct ifreq *ifr, rx_tap_error_t *e) {
  memset(ifr, 0, sizeof *ifr);
  return rx_tap_current_name(fd, ifr->ifr_name, e);
}

int rx_tap_get_mtu(int fd, int ctl, int *mtu, rx_tap_error_t *e) {
  struct ifreq ifr;
  if (named_ifreq(fd, &ifr, e) != 0) return -1;
  if (ioctl(ctl, SIOCGIFMTU, &ifr) != 0) return fail(e, errno, "ioctl", "SIOCGIFMTU %s", ifr.ifr_name);
  *mtu = ifr.ifr_mtu;
  return 0;
}

int rx_tap_set_mtu(int fd, int ctl, int mtu, rx_tap_error_t *e) {
  struct ifreq ifr;
  if (named_ifreq(fd, &ifr, e) != 0) return -1;
  ifr.ifr_mtu = mtu;
  if (ioctl(ctl, SIOCSIFMTU, &ifr) != 0) return fail(e, errno, "ioctl", "SIOCSIFMTU %s", ifr.ifr_name);
  return 0;
}

int rx_tap_get_flags(int fd, int ctl, int *flags, rx_tap_error_t *e) {
  struct ifreq ifr;
  if (named_ifreq(fd, &ifr, e) != 0) return -1;
  if (ioctl(ctl, SIOCGIFFLAGS, &ifr) != 0) return fail(e, errno, "ioctl", "SIOCGIFFLAGS %s", ifr.ifr_name);
  *flags = ifr.ifr_flags & 0xffff;
  return 0;
}

int rx_tap_set_up(int fd, int ctl, int up, rx_tap_error_t *e) {
  struct ifreq ifr;
  if (named_ifreq(fd, &ifr, e) != 0) return -1;
  if (ioctl(ctl, SIOCGIFFLAGS, &ifr) != 0) return fail(e, errno, "ioctl", "SIOCGIFFLAGS %s", ifr.ifr_name);
  if (up) ifr.ifr_flags |= IFF_UP;
  else ifr.ifr_flags &= ~IFF_UP;
  if (ioctl(ctl, SIOCSIFFLAGS, &ifr) != 0) return fail(e, errno, "ioctl", "SIOCSIFFLAGS %s", ifr.ifr_name);
  return 0;
}

int rx_tap_rename(int fd, int ctl, const char *new_name, rx_tap_error_t *e) {
  struct ifreq ifr;
  if (!name_ok(new_name)) return fail(e, EINVAL, "ioctl", "bad interface name \"%s\" (1 to 15 bytes)", new_name);
  if (named_ifreq(fd, &ifr, e) != 0) return -1;
  strncpy(ifr.ifr_newname, new_name, IFNAMSIZ - 1);
  if (ioctl(ctl, SIOCSIFNAME, &ifr) != 0) return fail(e, errno, "ioctl", "SIOCSIFNAME %s", ifr.ifr_name);
  return 0;
}

int rx_tap_set_sndbuf(int fd, int bytes, rx_tap_error_t *e) {
  if (ioctl(fd, TUNSETSNDBUF, &bytes) != 0) return fail(e, errno, "ioctl", "TUNSETSNDBUF%s", "");
  return 0;
}

int rx_tap_set_offload(int fd, unsigned flags, rx_tap_error_t *e) {
  if (ioctl(fd, TUNSETOFFLOAD, (unsigned long)flags) != 0) return fail(e, errno, "ioctl", "TUNSETOFFLOAD%s", "");
  return 0;
}
