{
  "targets": [
    {
      "target_name": "epchat",
      "sources": [
        "native/binding/addon.cc",
        "native/core/admin.cc",
        "native/core/bridge.cc",
        "native/core/buf.cc",
        "native/core/chat.cc",
        "native/core/engine.cc",
        "native/core/line_codec.cc",
        "native/core/outq.cc",
        "native/core/server.cc",
        "native/core/session.cc",
        "native/core/signals.cc",
        "native/core/stats.cc",
        "native/core/sysio.cc",
        "native/core/text.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17"],
      "cflags_cc": ["-std=c++17", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-missing-field-initializers"]
    }
  ]
}
