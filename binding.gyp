{
  "variables": {
    "sd_blas%": "<!(node native/detect-blas.cjs)",
    "sd_version%": "<!(node -p \"require('./package.json').version\")",
    "sd_prebuild%": "<!(node -p \"process.env.SOCRATIC_DISTILL_PREBUILD === '1' ? 1 : 0\")"
  },
  "targets": [
    {
      "target_name": "socratic_native",
      "sources": [
        "native/src/addon.cc",
        "native/src/core.cc",
        "native/src/gpt2.cc",
        "native/src/llama.cc",
        "native/src/llama_kernels.cc",
        "native/src/kernels.cc",
        "native/src/gemm.cc",
        "native/src/gemm_isa.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "SD_VERSION=\"<(sd_version)\""],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17"],
      "cflags_cc": ["-std=c++17", "-O3", "-fopenmp", "-fexceptions", "-fno-math-errno", "-fno-trapping-math"],
      "ldflags": ["-fopenmp"],
      "conditions": [
        ["sd_blas==1", { "defines": ["SD_HAVE_CBLAS"], "libraries": ["-lopenblas"] }],
        # The prebuilt addon (npm run prebuild) links the C++ runtime statically and finds libgomp.so.1
        # beside itself (prebuild.mjs copies it there; Debian's libgomp.a cannot go into a shared
        # object), so it needs nothing but glibc on the target machine: no compiler, no libgomp1.
        ["sd_prebuild==1", { "ldflags": ["-static-libstdc++", "-static-libgcc", "-Wl,-rpath,'$$ORIGIN'"] }]
      ]
    }
  ]
}
