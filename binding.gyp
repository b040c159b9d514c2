{
  "targets": [
    {
      "target_name": "rx_tap",
      "sources": [
        "native/rx-tap.c",
        "native/tap-sys.c",
        "native/write-queue.c",
        "native/rx-slab.c",
        "native/errno-name.c",
        "native/datagram-socket.c",
        "native/tcp-socket.c",
        "native/socket-env.c",
        "native/host-poll.c",
        "native/napi-this.c",
        "native/udp-flow.c",
        "native/sched-slice.c",
        "native/tap-uring.c"
      ],
      "defines": ["NAPI_VERSION=8"],
      "cflags": ["-std=gnu11", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-missing-field-initializers"],
      "conditions": [
        ["OS!='linux'", { "type": "none", "sources": [] }]
      ]
    }
  ]
}
