{
  "targets": [
    {
      "target_name": "confine",
      "sources": [],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS", "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-fno-exceptions"],
      "conditions": [
        ["OS=='linux'", {
          "sources": [
            "native/addon.cc",
            "native/posix/child.cc",
            "native/posix/environ.cc",
            "native/posix/errno_name.cc",
            "native/posix/exit_watch.cc",
            "native/posix/file_stat.cc",
            "native/posix/fd.cc",
            "native/posix/probe.cc",
            "native/posix/process_id.cc",
            "native/posix/signal.cc",
            "native/posix/spawn.cc",
            "native/posix/start_watch.cc",
            "native/posix/thread.cc",
            "native/posix/user.cc",
            "native/linux/capabilities.cc",
            "native/linux/cgroup_dirs.cc",
            "native/linux/clone.cc",
            "native/linux/dumpable.cc",
            "native/linux/guards.cc",
            "native/linux/isolation_child.cc",
            "native/linux/isolation_plan.cc",
            "native/linux/isolation_probe.cc",
            "native/linux/landlock.cc",
            "native/linux/namespace_pool.cc",
            "native/linux/pidfd.cc",
            "native/linux/reaper.cc",
            "native/linux/seccomp.cc"
          ],
          "ldflags": ["-Wl,-z,now"]
        }],
        ["OS=='mac'", {
          "sources": [
            "native/addon.cc",
            "native/posix/child.cc",
            "native/posix/environ.cc",
            "native/posix/errno_name.cc",
            "native/posix/exit_watch.cc",
            "native/posix/file_stat.cc",
            "native/posix/fd.cc",
            "native/posix/fork.cc",
            "native/posix/probe.cc",
            "native/posix/process_id.cc",
            "native/posix/signal.cc",
            "native/posix/spawn.cc",
            "native/posix/start_watch.cc",
            "native/posix/thread.cc",
            "native/posix/user.cc"
          ],
          "xcode_settings": {
            "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
            "MACOSX_DEPLOYMENT_TARGET": "11.0",
            "GCC_ENABLE_CPP_EXCEPTIONS": "NO",
            "OTHER_CPLUSPLUSFLAGS": ["-Wall", "-Wextra"]
          }
        }],
        ["OS=='win'", {
          "sources": [
            "native/addon_win.cc",
            "native/win/argv.cc",
            "native/win/console.cc",
            "native/win/env.cc",
            "native/win/errors.cc",
            "native/win/job.cc",
            "native/win/monitor.cc",
            "native/win/probe.cc",
            "native/win/spawn.cc",
            "native/win/token.cc"
          ],
          "defines": ["UNICODE", "_UNICODE", "WIN32_LEAN_AND_MEAN", "NOMINMAX"],
          "libraries": ["-ladvapi32", "-luser32", "-lbcrypt"],
          "msvs_settings": { "VCCLCompilerTool": { "ExceptionHandling": 0 } }
        }]
      ]
    }
  ],
  "conditions": [
    ["OS=='linux'", {
      "targets": [
        {
          # pid 1 of a private pid namespace (native/linux/init/init.cc): a static executable
          # without libc, shipped beside the addon (scripts/prebuild.js copies it into prebuilds/).
          # -fno-sanitize=all: the ASan build (scripts/test-asan.sh) sets CFLAGS for every target,
          # and this one has no runtime to link the sanitizers against.
          "target_name": "confine-init",
          "type": "executable",
          "sources": ["native/linux/init/start.S", "native/linux/init/init.cc"],
          "cflags!": ["-pthread", "-fPIC", "-fno-omit-frame-pointer"],
          "ldflags!": ["-pthread", "-rdynamic"],
          "cflags": ["-O2", "-ffreestanding", "-fno-stack-protector", "-fno-builtin", "-fno-pie",
                     "-fno-asynchronous-unwind-tables", "-fno-sanitize=all"],
          "cflags_cc": ["-std=c++17", "-fno-exceptions", "-fno-rtti", "-Wall", "-Wextra"],
          "ldflags": ["-nostdlib", "-static", "-no-pie", "-Wl,--build-id=none", "-s",
                      "-fno-sanitize=all"]
        }
      ]
    }]
  ]
}
