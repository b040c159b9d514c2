/* The TcpSocket class of the addon (tcp-socket.c): a host TCP client socket for relaying. */
#ifndef RX_TCP_SOCKET_H
#define RX_TCP_SOCKET_H

#include <node_api.h>

/* Adds the TcpSocket class to `exports`. */
void rx_tcp_socket_init(napi_env env, napi_value exports);

#endif
