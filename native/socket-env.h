/*
 * What the host sockets (DatagramSocket, TcpSocket) of one Node.js environment share: the main
 * thread and every worker thread that loads the addon is an environment of its own (its own
 * napi_env, V8 isolate and event loop), so none of this may be process-wide.
 *
 *   - the receive buffers: a datagram, or a TCP read, is read into one buffer per environment
 *     and handed to JavaScript as a place in it (JavaScript made its view of the buffer once);
 *   - the Uint32Arrays, shared with JavaScript, that say where a read's bytes are (and for a
 *     datagram, where from): set before each callback, so the callback gets no arguments;
 *   - the open sockets, closed when the environment goes away (a worker thread ends with sockets
 *     open), and the epoll set that watches them (host-poll.h) with its one uv_poll: Node waits
 *     for that handle to close while the addon's code is still loaded (without this, a close
 *     callback ran after the addon was unloaded: a crash).
 *
 * Kept as the addon's instance data (napi_set_instance_data), made by the module's init.
 */
#ifndef RX_SOCKET_ENV_H
#define RX_SOCKET_ENV_H

#include <node_api.h>
#include <stdint.h>
#include <uv.h>

struct pollfd;

/* Largest datagram: 64 KiB. */
#define RX_DGRAM_MAX 65536
/* The largest TCP read: what a wake-up of a bulk transfer finds queued is taken in one call. */
#define RX_TCP_READ_MAX (256 * 1024)

/* datagramRead's slots: where the datagram is in datagramReadBuffer, and its source. */
enum { RX_DGRAM_OFFSET, RX_DGRAM_LENGTH, RX_DGRAM_ADDRESS, RX_DGRAM_PORT, RX_DGRAM_SLOTS };

/* Sockets served last whose keys the environment keeps (host-poll.h rx_host_poll_hot). */
#define RX_HOST_HOT 2

/* A socket on the environment's list while it is open. */
typedef struct rx_env_socket {
  struct rx_env_socket *prev, *next;
  /* Closes the socket (nothing may call JavaScript); it leaves the list. */
  void (*teardown)(struct rx_env_socket *);
} rx_env_socket_t;

/* A slot of the host sockets' epoll set (host-poll.c): the socket, and a count of its reuses. */
typedef struct {
  struct rx_host_watch *w; /* NULL: free */
  uint32_t gen;
  uint32_t next_free;      /* index + 1 of the next free slot; 0: none */
} rx_host_slot_t;

typedef struct rx_socket_env {
  napi_env env;
  uint8_t *dgram_buf;   /* RX_DGRAM_MAX bytes: `datagramReadBuffer` */
  uint32_t *dgram_read; /* RX_DGRAM_SLOTS: `datagramRead` */
  uint8_t *tcp_buf;     /* RX_TCP_READ_MAX bytes: `tcpReadBuffer` */
  uint32_t *tcp_read;   /* [length]: `tcpRead` */
  napi_ref refs[4];     /* the four above, held for the environment's life */
  rx_env_socket_t open; /* list head: open sockets */
  napi_async_cleanup_hook_handle cleanup;
  int tearing_down;
  /* The host sockets' epoll set (host-poll.c), made by the first socket that watches. */
  int epfd;              /* -1: none yet */
  uv_poll_t epoll_poll;  /* on epfd, while poll_open */
  int poll_open;         /* 1 open, 2 closing */
  unsigned alive;        /* sockets in the set that keep the loop alive (the poll is ref'd while > 0) */
  rx_host_slot_t *slots;
  uint32_t nslots, free_head;
  uint32_t watching;         /* sockets of the set that watch something (events != 0) */
  /* The same sockets as a poll(2) list (host-poll.h rx_host_poll_list), kept up to date by
   * watch and forget: the fds with their events, and each one's event key (slot, generation). */
  struct pollfd *pfds;
  uint64_t *pkeys;
  uint32_t npfds, pcap;
  double direct_dispatches;  /* sockets' events dispatched from a poll(2) of their own fds (rx_host_poll_ready) */
  uint64_t hot[RX_HOST_HOT]; /* event keys of the sockets served last, newest first (rx_host_poll_hot); 0: none */
  void (*poll_closed)(struct rx_socket_env *);
} rx_socket_env_t;

/* Makes the environment's state and puts its buffers and arrays on `exports`; 0, or -1 with an
   exception pending. */
int rx_socket_env_init(napi_env env, napi_value exports);
/* The environment's state (NULL before rx_socket_env_init). */
rx_socket_env_t *rx_socket_env(napi_env env);
/* A socket is open / was closed (its fd closed, its slot in the epoll set let go). */
void rx_socket_env_add(rx_socket_env_t *e, rx_env_socket_t *s);
void rx_socket_env_remove(rx_socket_env_t *e, rx_env_socket_t *s);

#endif
