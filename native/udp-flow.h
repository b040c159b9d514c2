/*
 * The nat's established UDP flows relayed in native code (a flow offload, like a kernel's
 * nftables flowtable): once JavaScript has set a flow up (its first datagram went the whole way
 * through the stack: IPv4, UDP, the forwarder's session, the host socket), it registers the flow
 * with the TUN device's flow table: the namespace's 4-tuple, the session's connected host socket
 * (a DatagramSocket), and what the reply's IPv4 header needs (TTL, the next IPv4 ID). From then
 * on:
 *
 *   - the device's read loop (tap-read.c) hands each frame it reads to rx_flow_input first: an
 *     IPv4 datagram of a registered flow that needs nothing of the stack (no options, not a
 *     fragment, UDP, both checksums right or the UDP one left to us by the kernel with
 *     VIRTIO_NET_HDR_F_NEEDS_CSUM, lengths consistent, TTL not 0) has its payload sent on the
 *     flow's host socket here, and the answer read at once when it is already there (the
 *     sendAndReceive rule of datagram-socket.c); anything else goes to JavaScript as before;
 *   - the host socket's readiness (datagram-socket.c's on_ready) reads the answer straight into
 *     the table's packet buffer behind room for the headers, which are written from the flow's
 *     template (IPv4 ID counted up per datagram, both checksums complete) and the packet goes to
 *     the device with one write.
 *
 * Neither calls into JavaScript. Every datagram is counted, per flow and per table, and
 * JavaScript folds the counts into the stack's counters when it reads them. An error on the host
 * socket takes the flow out of the table and reaches JavaScript as the socket's onError (a send
 * that fails loses its datagram, as sendAndReceive's does); EAGAIN on the socket, an answer
 * larger than the device's MTU allows, or a frame that is not plain, goes the JavaScript way.
 */
#ifndef RX_UDP_FLOW_H
#define RX_UDP_FLOW_H

#include <stddef.h>
#include <stdint.h>

#define RX_FLOW_BUCKETS 256
/* IPv4 (no options) and UDP headers in front of a reply's payload. */
#define RX_FLOW_HEADERS 28
/* The largest answer payload the packet buffer takes. */
#define RX_FLOW_PAYLOAD_MAX 65536

typedef struct rx_udp_flow rx_udp_flow_t;
typedef struct rx_flow_table rx_flow_table_t;

/* The device's write of one packet (behind its virtio_net_hdr when the device has one). */
typedef int (*rx_flow_write_fn)(void *dev, const uint8_t *bytes, size_t len);
/*
 * The socket's side, called last (nothing of the flow is touched after it: JavaScript may close
 * the socket): `err` an error its send or read met (the flow is already out of the table), or
 * 0 for an answer of `len` bytes at rx_flow_answer_room that goes the JavaScript way.
 */
typedef void (*rx_flow_event_fn)(void *socket, int err, size_t len);

/* Counts, per flow and per table: datagrams and payload bytes from the namespace (rx) and to it (tx). */
enum { RX_FLOW_RX_DATAGRAMS, RX_FLOW_RX_BYTES, RX_FLOW_TX_DATAGRAMS, RX_FLOW_TX_BYTES, RX_FLOW_COUNTS };

struct rx_udp_flow {
  rx_udp_flow_t *next;      /* the bucket's chain */
  rx_flow_table_t *table;   /* NULL: not registered */
  uint32_t client, dest;    /* network order: the namespace's source, its original destination */
  uint16_t cport, dport;    /* network order */
  int fd;                   /* the connected host socket */
  void *socket;             /* its DatagramSocket, for on_event */
  rx_flow_event_fn on_event;
  uint16_t ip_id;           /* the last IPv4 ID used */
  uint8_t ttl;
  double counts[RX_FLOW_COUNTS];
  unsigned active;          /* datagrams either way since JavaScript last asked */
  unsigned answer_misses, answer_skips;
};

struct rx_flow_table {
  rx_udp_flow_t *buckets[RX_FLOW_BUCKETS];
  unsigned count;
  void *dev;
  rx_flow_write_fn write;
  size_t vnet_len;          /* the device's virtio_net_hdr length (0: none) */
  unsigned mtu;             /* replies longer than this go the JavaScript way */
  double counts[RX_FLOW_COUNTS];
  /* Link bytes (IPv4 packets) each way, for the link's counters. */
  double rx_packet_bytes, tx_packet_bytes;
  uint8_t *out;             /* vnet_len + RX_FLOW_HEADERS + RX_FLOW_PAYLOAD_MAX: the reply being built */
};

/* A table for a device (vnet_len 0 or 10); 0, or -ENOMEM. */
int rx_flow_table_init(rx_flow_table_t *t, void *dev, rx_flow_write_fn write, size_t vnet_len);
/* The device closes: every flow leaves the table (their sockets keep working the JavaScript way). */
void rx_flow_table_clear(rx_flow_table_t *t);

/*
 * The flow table of the TapHandle object `handle` (tap-send.c rx_tap_flow_table; a TUN device's), opened on first
 * use, its MTU set to `mtu`; NULL when `handle` is not an open TapHandle or the table cannot be
 * made.
 */
struct napi_env__;
struct napi_value__;
rx_flow_table_t *rx_tap_flow_table(struct napi_env__ *env, struct napi_value__ *handle, unsigned mtu);

/* Registers `f` (its addresses, ports, fd, socket and callbacks set) in `t`; -EEXIST when the 4-tuple is taken. */
int rx_flow_add(rx_flow_table_t *t, rx_udp_flow_t *f);
/* Takes `f` out of its table (nothing when it is not in one). */
void rx_flow_remove(rx_udp_flow_t *f);

/*
 * A frame the device read (its virtio_net_hdr first when it has one): 1 when it was a registered
 * flow's datagram and was relayed here (it is consumed), 0 when it goes to JavaScript.
 */
int rx_flow_input(rx_flow_table_t *t, uint8_t *frame, size_t len);

/* Where the host socket reads an answer of `f`, and how much room there is. */
uint8_t *rx_flow_answer_room(rx_udp_flow_t *f, size_t *room);
/*
 * The answer of `len` bytes read into rx_flow_answer_room goes to the namespace: 1 when written
 * (or queued by the device), 0 when it must go the JavaScript way (longer than the MTU allows).
 */
int rx_flow_answer(rx_udp_flow_t *f, size_t len);

#endif
