{
  "targets": [
    {
      "target_name": "rx_tap",
      "sources": [
        "native/rx-tap.c",
        "native/tap-life.c",
        "native/tap-call.c",
        "native/tap-poll.c",
        "native/tap-read.c",
        "native/tap-own-wait.c",
        "native/tap-write.c",
        "native/tap-send.c",
        "native/tap-config.c",
        "native/tap-stats.c",
        "native/tap-napi.c",
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
        "native/tap-uring.c",
        "native/heap-pages.c"
      ],
      "defines": ["NAPI_VERSION=8"],
      "cflags": ["-std=gnu11", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-missing-field-initializers"],
      "conditions": [
        ["OS!='linux'", { "type": "none", "sources": [] }]
      ]
    }
  ]
}
