/*
 * The calling thread's EEVDF slice (Linux 6.12 and later: sched_setattr's sched_runtime for a
 * SCHED_OTHER thread). `rx-netstack nat` gives its event loop's thread a slice longer than its
 * peers' so that, sharing a CPU with a client and a server, a peer it wakes runs at once and a
 * peer that wakes it finishes first (docs/architecture.md "Forwarding mode").
 */
#ifndef RX_SCHED_SLICE_H
#define RX_SCHED_SLICE_H

#include <node_api.h>

/* Adds setSchedSlice(us) and schedSlice() to `exports`. */
void rx_sched_slice_init(napi_env env, napi_value exports);

#endif
