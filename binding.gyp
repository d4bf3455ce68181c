{
  "variables": {
    "sd_blas%": "<!(node native/detect-blas.cjs)",
    "sd_version%": "<!(node -p \"require('./package.json').version\")"
  },
  "targets": [
    {
      "target_name": "socratic_native",
      "sources": [
        "native/src/addon.cc",
        "native/src/model.cc",
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
        ["sd_blas==1", { "defines": ["SD_HAVE_CBLAS"], "libraries": ["-lopenblas"] }]
      ]
    }
  ]
}
