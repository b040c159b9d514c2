/*
 * The native object behind `this` in a method of one of the addon's classes (TapHandle,
 * DatagramSocket, TcpSocket): every method starts by unwrapping it, and a method called on
 * something else throws ERR_INVALID_THIS naming the class.
 */
#ifndef RX_NAPI_THIS_H
#define RX_NAPI_THIS_H

#include <node_api.h>

/* Reads the call's arguments (`argc`/`argv` as napi_get_cb_info) and returns the wrapped native
   object, or NULL with an ERR_INVALID_THIS pending ("not a <class_name>"). */
void *rx_unwrap_this(napi_env env, napi_callback_info info, size_t *argc, napi_value *argv, const char *class_name);

#endif
