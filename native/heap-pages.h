/*
 * Where V8 maps its heap pages: packed next to each other instead of at random addresses
 * (docs/architecture.md "The V8 heap's pages").
 */
#ifndef RX_HEAP_PAGES_H
#define RX_HEAP_PAGES_H

#include <node_api.h>

/* Adds setHeapPages(mode) and heapPages() to `exports`. */
void rx_heap_pages_init(napi_env env, napi_value exports);

#endif
