/* The IcmpEchoSocket class of the addon (icmp-echo-socket.c): the host's ICMP datagram socket. */
#ifndef RX_ICMP_ECHO_SOCKET_H
#define RX_ICMP_ECHO_SOCKET_H

#include <node_api.h>

/* Adds the IcmpEchoSocket class to `exports`. */
void rx_icmp_echo_init(napi_env env, napi_value exports);

#endif
