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
 *     open): Node waits for their uv handles to close while the addon's code is still loaded
 *     (without this, a close callback ran after the addon was unloaded: a crash).
 *
 * Kept as the addon's instance data (napi_set_instance_data), made by the module's init.
 */
#ifndef RX_SOCKET_ENV_H
#define RX_SOCKET_ENV_H

#include <node_api.h>
#include <stdint.h>

/* Largest datagram: 64 KiB. */
#define RX_DGRAM_MAX 65536
/* The largest TCP read: what a wake-up of a bulk transfer finds queued is taken in one call. */
#define RX_TCP_READ_MAX (256 * 1024)

/* datagramRead's slots: where the datagram is in datagramReadBuffer, and its source. */
enum { RX_DGRAM_OFFSET, RX_DGRAM_LENGTH, RX_DGRAM_ADDRESS, RX_DGRAM_PORT, RX_DGRAM_SLOTS };

/* A socket on the environment's list while its uv handle is open. */
typedef struct rx_env_socket {
  struct rx_env_socket *prev, *next;
  /* Closes the socket's fd and starts closing its uv handle (nothing may call JavaScript). */
  void (*teardown)(struct rx_env_socket *);
} rx_env_socket_t;

typedef struct {
  napi_env env;
  uint8_t *dgram_buf;   /* RX_DGRAM_MAX bytes: `datagramReadBuffer` */
  uint32_t *dgram_read; /* RX_DGRAM_SLOTS: `datagramRead` */
  uint8_t *tcp_buf;     /* RX_TCP_READ_MAX bytes: `tcpReadBuffer` */
  uint32_t *tcp_read;   /* [length]: `tcpRead` */
  napi_ref refs[4];     /* the four above, held for the environment's life */
  rx_env_socket_t open; /* list head: sockets whose uv handle is open */
  napi_async_cleanup_hook_handle cleanup;
  int tearing_down;
} rx_socket_env_t;

/* Makes the environment's state and puts its buffers and arrays on `exports`; 0, or -1 with an
   exception pending. */
int rx_socket_env_init(napi_env env, napi_value exports);
/* The environment's state (NULL before rx_socket_env_init). */
rx_socket_env_t *rx_socket_env(napi_env env);
/* A socket's uv handle was opened / has finished closing. */
void rx_socket_env_add(rx_socket_env_t *e, rx_env_socket_t *s);
void rx_socket_env_remove(rx_socket_env_t *e, rx_env_socket_t *s);

#endif
