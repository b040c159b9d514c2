/* The DatagramSocket class of the addon (datagram-socket.c): host UDP and ICMP datagram sockets. */
#ifndef RX_DATAGRAM_SOCKET_H
#define RX_DATAGRAM_SOCKET_H

#include <node_api.h>

/* Adds the DatagramSocket class to `exports`. */
void rx_datagram_socket_init(napi_env env, napi_value exports);

#endif
