/* The nat's established UDP flows relayed in native code: see udp-flow.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "udp-flow.h"

/* sendAndReceive's rule (datagram-socket.c): the answer read right after the send is skipped
 * once this many such reads in a row found nothing, tried again every ANSWER_PROBE_EVERY-th time. */
#define ANSWER_MISSES 4
#define ANSWER_PROBE_EVERY 16
/* virtio_net_hdr: flags (NEEDS_CSUM: the checksum is left to us, the packet never left the host), gso_type. */
#define VNET_F_NEEDS_CSUM 1
#define VNET_GSO_NONE 0

static inline uint16_t get16(const uint8_t *p) {
  return (uint16_t)(p[0] << 8 | p[1]);
}

static inline void put16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}

/* The one's complement sum of `len` bytes (big-endian 16-bit words), not folded. */
static uint64_t sum_bytes(const uint8_t *p, size_t len, uint64_t sum) {
  while (len >= 2) {
    sum += get16(p);
    p += 2;
    len -= 2;
  }
  if (len) sum += (uint32_t)p[0] << 8;
  return sum;
}

static uint16_t fold(uint64_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return (uint16_t)sum;
}

/* The UDP pseudo-header's sum: addresses (network order in memory), protocol 17, UDP length. */
static uint64_t pseudo_sum(uint32_t src, uint32_t dst, size_t udp_len) {
  uint8_t a[8];
  memcpy(a, &src, 4);
  memcpy(a + 4, &dst, 4);
  return sum_bytes(a, 8, 17 + (uint64_t)udp_len);
}

static unsigned bucket_of(uint32_t client, uint32_t dest, uint16_t cport, uint16_t dport) {
  uint32_t h = client * 2654435761u ^ dest * 2246822519u ^ ((uint32_t)cport << 16 | dport) * 3266489917u;
  return (h ^ h >> 15 ^ h >> 24) & (RX_FLOW_BUCKETS - 1);
}

int rx_flow_table_init(rx_flow_table_t *t, void *dev, rx_flow_write_fn write, size_t vnet_len) {
  memset(t, 0, sizeof *t);
  t->out = calloc(1, vnet_len + RX_FLOW_HEADERS + RX_FLOW_PAYLOAD_MAX);
  if (t->out == NULL) return -ENOMEM;
  t->dev = dev;
  t->write = write;
  t->vnet_len = vnet_len;
  t->mtu = 1500;
  return 0;
}

void rx_flow_table_clear(rx_flow_table_t *t) {
  for (unsigned b = 0; b < RX_FLOW_BUCKETS; b++) {
    while (t->buckets[b] != NULL) rx_flow_remove(t->buckets[b]);
  }
  free(t->out);
  t->out = NULL;
}

static rx_udp_flow_t *lookup(rx_flow_table_t *t, uint32_t client, uint32_t dest, uint16_t cport, uint16_t dport) {
  for (rx_udp_flow_t *f = t->buckets[bucket_of(client, dest, cport, dport)]; f != NULL; f = f->next) {
    if (f->client == client && f->dest == dest && f->cport == cport && f->dport == dport) return f;
  }
  return NULL;
}

int rx_flow_add(rx_flow_table_t *t, rx_udp_flow_t *f) {
  if (t->out == NULL) return -EBADF;
  if (f->table != NULL) return f->table == t ? 0 : -EEXIST;
  if (lookup(t, f->client, f->dest, f->cport, f->dport) != NULL) return -EEXIST;
  unsigned b = bucket_of(f->client, f->dest, f->cport, f->dport);
  f->next = t->buckets[b];
  t->buckets[b] = f;
  f->table = t;
  f->answer_misses = f->answer_skips = 0;
  t->count++;
  return 0;
}

void rx_flow_remove(rx_udp_flow_t *f) {
  rx_flow_table_t *t = f->table;
  if (t == NULL) return;
  rx_udp_flow_t **at = &t->buckets[bucket_of(f->client, f->dest, f->cport, f->dport)];
  while (*at != NULL && *at != f) at = &(*at)->next;
  if (*at == f) *at = f->next;
  f->next = NULL;
  f->table = NULL;
  t->count--;
}

uint8_t *rx_flow_answer_room(rx_udp_flow_t *f, size_t *room) {
  rx_flow_table_t *t = f->table;
  *room = RX_FLOW_PAYLOAD_MAX;
  return t->out + t->vnet_len + RX_FLOW_HEADERS;
}

int rx_flow_answer(rx_udp_flow_t *f, size_t len) {
  rx_flow_table_t *t = f->table;
  if (t == NULL) return 0;
  size_t total = RX_FLOW_HEADERS + len;
  if (total > t->mtu) return 0; /* the stack fragments it */
  uint8_t *ip = t->out + t->vnet_len;
  if (t->vnet_len) memset(t->out, 0, t->vnet_len); /* no offload asked of the kernel */
  /* IPv4 as the stack sends a UDP reply: no TOS, not DF (so an ID), its TTL, from the original destination. */
  ip[0] = 0x45;
  ip[1] = 0;
  put16(ip + 2, (uint16_t)total);
  put16(ip + 4, ++f->ip_id);
  ip[6] = ip[7] = 0;
  ip[8] = f->ttl;
  ip[9] = 17;
  ip[10] = ip[11] = 0;
  memcpy(ip + 12, &f->dest, 4);
  memcpy(ip + 16, &f->client, 4);
  put16(ip + 10, (uint16_t)~fold(sum_bytes(ip, 20, 0)));
  uint8_t *udp = ip + 20;
  memcpy(udp, &f->dport, 2);
  memcpy(udp + 2, &f->cport, 2);
  put16(udp + 4, (uint16_t)(8 + len));
  udp[6] = udp[7] = 0;
  uint16_t c = (uint16_t)~fold(sum_bytes(udp, 8 + len, pseudo_sum(f->dest, f->client, 8 + len)));
  put16(udp + 6, c == 0 ? 0xffff : c);
  int r = t->write(t->dev, t->out, t->vnet_len + total);
  if (r >= 0) {
    f->counts[RX_FLOW_TX_DATAGRAMS]++;
    f->counts[RX_FLOW_TX_BYTES] += (double)len;
    f->active++;
  }
  return 1;
}

int rx_flow_input(rx_flow_table_t *t, uint8_t *frame, size_t len) {
  if (t->count == 0 || len < t->vnet_len + RX_FLOW_HEADERS) return 0;
  int needs_csum = 0;
  if (t->vnet_len) {
    if (frame[1] != VNET_GSO_NONE) return 0;
    needs_csum = frame[0] & VNET_F_NEEDS_CSUM;
  }
  uint8_t *ip = frame + t->vnet_len;
  size_t ip_len = len - t->vnet_len;
  /* IPv4 without options, UDP, TTL left, its length the packet's, not a fragment (DF may be set). */
  if (ip[0] != 0x45 || ip[9] != 17 || ip[8] == 0 || get16(ip + 2) != ip_len || (get16(ip + 6) & 0x3fff) != 0) return 0;
  uint32_t src, dst;
  uint16_t sport, dport;
  memcpy(&src, ip + 12, 4);
  memcpy(&dst, ip + 16, 4);
  uint8_t *udp = ip + 20;
  memcpy(&sport, udp, 2);
  memcpy(&dport, udp + 2, 2);
  rx_udp_flow_t *f = lookup(t, src, dst, sport, dport);
  if (f == NULL) return 0;
  size_t udp_len = ip_len - 20;
  if (fold(sum_bytes(ip, 20, 0)) != 0xffff || get16(udp + 4) != udp_len) return 0;
  if (!needs_csum && get16(udp + 6) != 0 && fold(sum_bytes(udp, udp_len, pseudo_sum(src, dst, udp_len))) != 0xffff) return 0;
  ssize_t r;
  do r = send(f->fd, udp + 8, udp_len - 8, MSG_DONTWAIT);
  while (r < 0 && errno == EINTR);
  if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)) return 0; /* JavaScript tries, and counts */
  /* Received: counted as the stack counts a datagram it took, sent or not. */
  f->counts[RX_FLOW_RX_DATAGRAMS]++;
  f->counts[RX_FLOW_RX_BYTES] += (double)(udp_len - 8);
  f->active++;
  if (r < 0) {
    /* ECONNREFUSED (an ICMP error the kernel got for an earlier datagram), no route...: the flow
       leaves the table and JavaScript hears of it as from sendAndReceive (the datagram is lost,
       as there). Nothing of `f` is touched after the callback. */
    int err = errno;
    rx_flow_remove(f);
    f->on_event(f->socket, err, 0);
    return 1;
  }
  if (f->answer_misses >= ANSWER_MISSES && ++f->answer_skips % ANSWER_PROBE_EVERY != 0) return 1;
  size_t room;
  uint8_t *into = rx_flow_answer_room(f, &room);
  do r = recv(f->fd, into, room, MSG_DONTWAIT);
  while (r < 0 && errno == EINTR);
  if (r >= 0) {
    f->answer_misses = f->answer_skips = 0;
    if (!rx_flow_answer(f, (size_t)r)) {
      /* Too long for one packet: the socket's onMessage takes it (the stack fragments it). */
      f->on_event(f->socket, 0, (size_t)r);
    }
  } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
    f->answer_misses++;
  } else {
    int err = errno;
    rx_flow_remove(f);
    f->on_event(f->socket, err, 0);
  }
  return 1;
}
