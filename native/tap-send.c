/* The TAP handle's N-API writers: write, the bound sendFrame / sendWithHeader / sendSpan, writeBatch; the flow table. */
#include <errno.h>

#include "tap-handle.h"
#include "tap-napi.h"

/* write(frame): RX_WRITE_SENT | RX_WRITE_QUEUED | RX_WRITE_DROPPED, or -errno. */
napi_value tap_write(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  rx_tap_t *t = tap_this_open(env, info, &argc, argv);
  if (t == NULL) return NULL;
  uint8_t *data;
  size_t len;
  if (argc < 1 || tap_get_uint8_array(env, argv[0], &data, &len) != 0)
    return tap_throw_code(env, "ERR_INVALID_ARG_TYPE", "frame must be a Uint8Array");
  napi_value out;
  napi_create_int32(env, tap_write_one(t, data, len), &out);
  return out;
}

/*
 * The writers bound to their device (the function's data is the device), so a call skips
 * finding `this`'s native object, the costliest part of a method call here, and takes its
 * arguments without the checks writeBatch needs for arrays. Made once per handle (properties
 * `sendFrame`, `sendWithHeader` and `sendSpan`); the device's memory stays until all are collected.
 *
 * sendFrame(frame): as write(frame).
 * sendWithHeader(header, frame): one frame behind its own virtio_net_hdr (one writev), as the
 * pair [header, frame] in writeBatch; only on a handle opened with vnetHdr.
 */
static napi_value send_bound(napi_env env, napi_callback_info info, int with_header) {
  size_t argc = 2;
  napi_value argv[2];
  void *data;
  napi_get_cb_info(env, info, &argc, argv, NULL, &data);
  rx_tap_t *t = data;
  if (t->closed) return tap_throw_code(env, "ERR_LINK_CLOSED", "TAP device is closed");
  if (with_header && !t->vnet) return tap_throw_code(env, "ERR_INVALID_STATE", "a virtio_net_hdr needs a handle opened with vnetHdr");
  struct iovec iov[2];
  size_t n = (size_t)with_header + 1;
  for (size_t i = 0; i < n; i++) {
    uint8_t *bytes;
    size_t len;
    if (argc <= i || tap_get_uint8_array(env, argv[i], &bytes, &len) != 0)
      return tap_throw_code(env, "ERR_INVALID_ARG_TYPE", with_header ? "header and frame must be Uint8Arrays" : "frame must be a Uint8Array");
    iov[i] = (struct iovec){ bytes, len };
  }
  napi_value out;
  napi_create_int32(env, with_header ? tap_write_iov(t, iov, 2) : tap_write_one(t, iov[0].iov_base, iov[0].iov_len), &out);
  return out;
}

napi_value tap_send_frame(napi_env env, napi_callback_info info) {
  return send_bound(env, info, 0);
}

napi_value tap_send_with_header(napi_env env, napi_callback_info info) {
  return send_bound(env, info, 1);
}

/*
 * sendSpan(bytes, start, end): bytes[start, end) as one frame in one write() of one piece, bound
 * like sendFrame. On a handle opened with vnetHdr the span begins with the frame's own
 * virtio_net_hdr, written by the caller into room in front of the frame (the packet's headroom),
 * so no second piece (and no writev) is needed for it. Same results as write().
 */
napi_value tap_send_span(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  void *data;
  napi_get_cb_info(env, info, &argc, argv, NULL, &data);
  rx_tap_t *t = data;
  if (t->closed) return tap_throw_code(env, "ERR_LINK_CLOSED", "TAP device is closed");
  uint8_t *bytes;
  size_t len;
  uint32_t start = 0, end = 0;
  if (argc < 3 || tap_get_uint8_array(env, argv[0], &bytes, &len) != 0 || napi_get_value_uint32(env, argv[1], &start) != napi_ok ||
      napi_get_value_uint32(env, argv[2], &end) != napi_ok)
    return tap_throw_code(env, "ERR_INVALID_ARG_TYPE", "sendSpan(bytes: Uint8Array, start: number, end: number)");
  size_t least = t->vnet ? RX_VNET_HDR_LEN : 1;
  if (start > end || end > len || end - start < least)
    return tap_throw_code(env, "ERR_OUT_OF_RANGE", "the span must lie in bytes and hold a frame (behind its virtio_net_hdr with vnetHdr)");
  struct iovec iov = { bytes + start, end - start };
  napi_value out;
  napi_create_int32(env, tap_write_iov(t, &iov, 1), &out);
  return out;
}

void tap_bound_writer_finalize(napi_env env, void *data, void *hint) {
  rx_tap_t *t = data;
  (void)env;
  (void)hint;
  t->bound_writers--;
  tap_maybe_free(t);
}

/*
 * writeBatch(frames[, counts]): how many were sent or queued; -errno at the first fatal error.
 * Without counts each item is a frame (Uint8Array) or a frame gathered from pieces (array of
 * Uint8Array); with counts (a Uint8Array), the flat form below.
 */
/* Fills `iov` with the `parts` Uint8Arrays of `array` from index `first`; -1 if one is not one. */
static int pieces_iov(napi_env env, napi_value array, uint32_t first, uint32_t parts, struct iovec *iov) {
  for (uint32_t k = 0; k < parts; k++) {
    napi_value piece;
    uint8_t *data;
    size_t len;
    napi_get_element(env, array, first + k, &piece);
    if (tap_get_uint8_array(env, piece, &data, &len) != 0) return -1;
    iov[k] = (struct iovec){ data, len };
  }
  return 0;
}

/* writeBatch(pieces, counts): the flat form. Frame i is the next counts[i] Uint8Arrays of
   `pieces` (one writev when more than one): no array per frame to look into, two N-API calls a
   piece. Everything is checked before the first write, so a bad call writes nothing. */
static napi_value write_batch_flat(napi_env env, rx_tap_t *t, napi_value items, uint32_t n, const uint8_t *counts, size_t frames) {
  uint32_t sum = 0;
  for (size_t f = 0; f < frames; f++) {
    if (counts[f] == 0 || counts[f] > RX_MAX_PARTS)
      return tap_throw_code(env, "ERR_INVALID_ARG_VALUE", "each frame has 1..64 pieces");
    sum += counts[f];
  }
  if (sum != n) return tap_throw_code(env, "ERR_INVALID_ARG_VALUE", "the piece counts must add up to the number of pieces");
  int32_t accepted = 0;
  uint32_t at = 0;
  t->chunk.count = t->chunk.used = 0;
  bool go_on = true;
  for (size_t f = 0; f < frames && go_on; f++) {
    uint32_t parts = counts[f];
    int bare = parts == 1 && t->vnet;
    struct iovec *iov;
    if (!(go_on = tap_chunk_room(t, parts, bare, &accepted, &iov))) break;
    if (pieces_iov(env, items, at, parts, iov) != 0) {
      tap_write_chunk(t, &accepted); /* the frames before it go out, as they did one by one */
      return tap_throw_code(env, "ERR_INVALID_ARG_TYPE", "pieces must be Uint8Arrays");
    }
    at += parts;
    tap_chunk_commit(t, parts, bare);
  }
  if (go_on) tap_write_chunk(t, &accepted);
  napi_value out;
  napi_create_int32(env, accepted, &out);
  return out;
}

/* The flow table's write of a reply (udp-flow.h): one piece, behind its virtio_net_hdr with vnetHdr. */
static int flow_write(void *dev, const uint8_t *bytes, size_t len) {
  struct iovec iov = { (void *)bytes, len };
  return tap_write_iov(dev, &iov, 1);
}

rx_flow_table_t *rx_tap_flow_table(napi_env env, napi_value handle, unsigned mtu) {
  bool tagged = false;
  void *data = NULL;
  if (napi_check_object_type_tag(env, handle, &TAP_TAG, &tagged) != napi_ok || !tagged || napi_unwrap(env, handle, &data) != napi_ok ||
      data == NULL)
    return NULL;
  rx_tap_t *t = data;
  if (t->closed || !t->tun) return NULL;
  if (!t->flows_open) {
    if (rx_flow_table_init(&t->flows, t, flow_write, t->vnet ? RX_VNET_HDR_LEN : 0) != 0) return NULL;
    t->flows_open = 1;
  }
  t->flows.mtu = mtu;
  return &t->flows;
}

napi_value tap_write_batch(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  rx_tap_t *t = tap_this_open(env, info, &argc, argv);
  if (t == NULL) return NULL;
  bool is_array = false;
  if (argc < 1 || napi_is_array(env, argv[0], &is_array) != napi_ok || !is_array)
    return tap_throw_code(env, "ERR_INVALID_ARG_TYPE", "frames must be an array of Uint8Array");
  uint32_t n;
  napi_get_array_length(env, argv[0], &n);
  if (argc >= 2) {
    napi_valuetype type;
    napi_typeof(env, argv[1], &type);
    if (type != napi_undefined) {
      uint8_t *counts;
      size_t frames;
      if (tap_get_uint8_array(env, argv[1], &counts, &frames) != 0)
        return tap_throw_code(env, "ERR_INVALID_ARG_TYPE", "counts must be a Uint8Array");
      return write_batch_flat(env, t, argv[0], n, counts, frames);
    }
  }
  int32_t accepted = 0;
  t->chunk.count = t->chunk.used = 0;
  bool go_on = true;
  for (uint32_t i = 0; i < n && go_on; i++) {
    napi_value item;
    uint8_t *data;
    size_t len;
    napi_get_element(env, argv[0], i, &item);
    struct iovec *iov;
    if (tap_get_uint8_array(env, item, &data, &len) == 0) {
      if (!(go_on = tap_chunk_room(t, 1, t->vnet, &accepted, &iov))) break;
      iov[0] = (struct iovec){ data, len };
      tap_chunk_commit(t, 1, t->vnet);
      continue;
    }
    /* A gathered frame: an array of pieces written with one writev (the caller supplies the
       virtio_net_hdr as the first piece when the handle has vnetHdr). */
    bool parts_array = false;
    uint32_t parts = 0;
    if (napi_is_array(env, item, &parts_array) != napi_ok || !parts_array || napi_get_array_length(env, item, &parts) != napi_ok ||
        parts == 0 || parts > RX_MAX_PARTS || !(go_on = tap_chunk_room(t, parts, 0, &accepted, &iov)) ||
        pieces_iov(env, item, 0, parts, iov) != 0) {
      if (!go_on) break;
      tap_write_chunk(t, &accepted); /* the frames before it go out, as they did one by one */
      return tap_throw_code(env, "ERR_INVALID_ARG_TYPE", "frames must be Uint8Arrays or arrays of 1..64 Uint8Arrays");
    }
    tap_chunk_commit(t, parts, 0);
  }
  if (go_on) tap_write_chunk(t, &accepted);
  napi_value out;
  napi_create_int32(env, accepted, &out);
  return out;
}
