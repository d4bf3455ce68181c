#!/usr/bin/env bash
# The CUDA checks on a GPU machine that has no Node.js, from .device-bundle/ (built by scripts/device-bundle.mjs).
# Run from the repository root of a COPY of the working tree (the device machine's copy), never a dev checkout:
# it replaces node_modules, native/cuda/build and build/Release when they are symlinks or missing.
#   bash scripts/device-check.sh [--no-tests] [--no-emulation] [--no-bench] [--demo]
# --no-emulation skips the CPU and SIMT emulations' suites (they need no GPU and run on every dev machine), so the
# device time goes to the GPU suites: GPT-2 and the Llama family (fixtures/modern llama, qwen3, and the shapes
# beyond them).
# Env: OUT (results folder, default .device-out), BENCH_ARGS (extra bench/cuda.ts flags, e.g. --no-compile).
# Writes to $OUT: summary.txt, env.txt, tests.log, vitest.json, bench.jsonl, bench.err, demo.log (with --demo).
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
B=$ROOT/.device-bundle
OUT=${OUT:-$ROOT/.device-out}
mkdir -p "$OUT"
W=$(mktemp -d)
say() { echo "device-check: $*" | tee -a "$OUT/summary.txt"; }
want() { case " $ARGS " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
ARGS="$*"
[ -f "$B/manifest.json" ] || { say "no $B/manifest.json: run node scripts/device-bundle.mjs first"; exit 2; }

# 1. Unpack: node (+ the N-API headers the emulation build looks for beside it), fixtures, addons, node_modules.
mkdir -p "$W/node/bin" "$W/shared" "$W/addons"
xz -dc "$B/node.xz" > "$W/node/bin/node" && chmod +x "$W/node/bin/node"
tar -xJf "$B/fixtures.tar.xz" -C "$W/shared"
tar -xJf "$B/addons.tar.xz" -C "$W/addons"
mv "$W/addons/node/include" "$W/node/include"
for d in node_modules native/cuda/build build/Release; do
  if [ -L "$d" ] || [ ! -e "$d" ]; then
    rm -f "$d"
    case $d in
      node_modules) tar -xJf "$B/node_modules.tar.xz" -C "$ROOT" ;;
      *) mkdir -p "$(dirname "$d")" && cp -r "$W/addons/$d" "$d" ;;
    esac
    say "$d: from the bundle"
  else
    say "$d: kept (a real folder was already there)"
  fi
done
# Newer than the sources copied before them: native/cuda/build.mjs then counts the emulations as up to date.
touch -d "@$(($(date +%s) + 60))" native/cuda/build/*.node
export PATH="$W/node/bin:$PATH" SOCRATIC_SHARED="$W/shared"
{
  echo "bundle: $(tr -d '\n' < "$B/manifest.json" | grep -o '"commit": *"[^"]*"'), built $(grep -o '"built": *"[^"]*"' "$B/manifest.json")"
  echo "node: $(node -v)"
  date -u +%FT%TZ
  (nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || echo 'no nvidia-smi') 2>&1
  (python3 -c 'import torch, sys; print("torch", torch.__version__, "cuda", torch.version.cuda, torch.cuda.is_available())' || echo 'no torch') 2>&1
  (python3 -c 'import transformers; print("transformers", transformers.__version__)' || echo 'no transformers') 2>&1
} > "$OUT/env.txt"
say "$(head -2 "$OUT/env.txt" | tr '\n' ' ')"
status=0

# 2. The CUDA tests: GPU suites run when the probe is ok; the two emulations run everywhere (unless --no-emulation).
if ! want --no-tests; then
  want --no-emulation && export SOCRATIC_CUDA_EMULATION=0
  timeout 600 node node_modules/vitest/vitest.mjs run test/cuda-parity.test.ts test/cuda-probe.test.ts \
    --reporter=default --reporter=json --outputFile.json="$OUT/vitest.json" > "$OUT/tests.log" 2>&1
  rc=$?
  [ $rc -eq 0 ] || status=1
  say "tests: rc=$rc; $(grep -E '^ +Tests ' "$OUT/tests.log" | tail -1 | sed 's/^ *//')"
  grep -E 'GPU suites skipped|emulated suites skipped' "$OUT/tests.log" | sort -u | while read -r l; do say "  $l"; done
  # Per suite family, so the first GPU run of the Llama suites is visible in the summary.
  [ -f "$OUT/vitest.json" ] && node -e '
    const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    const n = {};
    for (const f of r.testResults) for (const a of f.assertionResults) {
      const m = /^(GPU|CPU emulation|SIMT emulation[^:]*): /.exec(a.fullName);
      if (!m) continue;
      const k = m[1] + (/Llama/.test(a.fullName) ? ", Llama family" : ", GPT-2 and other");
      (n[k] ??= {})[a.status] = (n[k][a.status] ?? 0) + 1;
    }
    for (const [k, c] of Object.entries(n)) console.log(k + ": " + Object.entries(c).map(([s, x]) => x + " " + s).join(", "));
  ' "$OUT/vitest.json" | while read -r l; do say "  $l"; done
fi

# 3. The bench (bundled bench/cuda.ts): native-cuda, then HF torch and nanoGPT-style torch (eager, torch.compile).
if ! want --no-bench; then
  # shellcheck disable=SC2086
  timeout 900 node "$B/js/cuda-bench.mjs" --json ${BENCH_ARGS:-} > "$OUT/bench.jsonl" 2> "$OUT/bench.err"
  rc=$?
  [ $rc -eq 0 ] || status=1
  say "bench: rc=$rc, $(grep -c '"value"' "$OUT/bench.jsonl") figure rows; $(grep -h 'skipped' "$OUT/bench.jsonl" "$OUT/bench.err" | head -3 | tr '\n' ' ')"
fi

# 4. Optional: the demo on the CUDA backend (bundled CLI).
if want --demo; then
  start=$(date +%s)
  timeout 900 node "$B/js/cli.js" demo --backend cuda --out "$OUT/demo" > "$OUT/demo.log" 2>&1
  rc=$?
  [ $rc -eq 0 ] || status=1
  say "demo: rc=$rc in $(($(date +%s) - start)) s"
fi
rm -rf "$W"
exit $status
