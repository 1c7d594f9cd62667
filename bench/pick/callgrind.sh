#!/usr/bin/env bash
# Instructions per pick + release, counted by callgrind: machine noise does not move them.
#
# For each subject at 10 backends, runs bench/pick/one.ts under callgrind twice — with N ops and with
# 0 ops, both after the same warm-up — and prints (Ir(N) - Ir(0)) / N. Node keeps its JIT (no
# --jitless): --smc-check=all lets valgrind follow the code V8 writes.
#
# Repeatability: one.ts is bundled first with the esbuild that tsx ships (tsx's loader runs on a
# second thread and caches on disk, which moved Ir(0) by ±40 M between identical runs), and node runs
# with --single-threaded (compiles and GC on the main thread), --random-seed and
# --predictable-gc-schedule. Two identical runs then agree to within ~10 000 instructions.
#
# Usage: bash bench/pick/callgrind.sh [subject ...]   (names as in subjects.ts)
# Env:   N (ops, default 100000), WARMUP (default 200000), SIZE (default 10), FORM (acquire|pick),
#        OUT (default bench/results/callgrind.json)
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
N="${N:-100000}"
WARMUP="${WARMUP:-200000}"
SIZE="${SIZE:-10}"
FORM="${FORM:-acquire}"
NODE_FLAGS=(--single-threaded --random-seed=42 --predictable-gc-schedule)
OUT="${OUT:-$BENCH_DIR/results/callgrind.json}"

if ! command -v valgrind >/dev/null 2>&1; then
  echo "valgrind not found: apt-get install -y valgrind" >&2
  exit 1
fi

if [ "$#" -gt 0 ]; then
  SUBJECTS=("$@")
else
  SUBJECTS=(p2c roundRobin weightedRoundRobin leastConnections ringHash maglev
    'roundRobin (tick clock)' 'floor: arr[i++ % n]' 'floor + 2× clock.now()')
fi

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
cd "$BENCH_DIR"

ESBUILD="$(readlink -f ../node_modules/tsx)/../esbuild/bin/esbuild"
if [ ! -x "$ESBUILD" ]; then
  ESBUILD="$(ls -d ../node_modules/.pnpm/esbuild@*/node_modules/esbuild/bin/esbuild 2>/dev/null | head -1)"
fi
[ -x "$ESBUILD" ] || { echo "esbuild (a dependency of tsx) not found" >&2; exit 1; }
BUNDLE="$TMP/one.cjs"
"$ESBUILD" pick/one.ts --bundle --platform=node --format=cjs --conditions=@fulcrum/source \
  --log-level=warning --outfile="$BUNDLE"

# Prints the instruction count of one run, or "skip" when the subject cannot be built.
count() {
  local ops="$1" name="$2" log="$3"
  if valgrind --tool=callgrind --smc-check=all --callgrind-out-file=/dev/null \
    node "${NODE_FLAGS[@]}" "$BUNDLE" "$name" "$SIZE" "$ops" "$WARMUP" "$FORM" >"$log" 2>&1; then
    sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$log"
  elif grep -q '^skipped:' "$log"; then
    echo skip
  else
    echo "error" && tail -5 "$log" >&2
  fi
}

echo "valgrind $(valgrind --version | sed 's/valgrind-//'), node $(node --version), $SIZE backends, form $FORM, N=$N, warm-up $WARMUP"
echo
echo "| subject | Ir(0) | Ir(N) | instructions / op |"
echo "|---|--:|--:|--:|"
rows=()
for name in "${SUBJECTS[@]}"; do
  # The two runs are independent: run them side by side (counts do not depend on timing).
  count 0 "$name" "$TMP/zero.log" >"$TMP/zero" &
  count "$N" "$name" "$TMP/n.log" >"$TMP/n" &
  wait
  zero="$(cat "$TMP/zero")"
  full="$(cat "$TMP/n")"
  if [ "$zero" = skip ] || [ "$full" = skip ]; then
    echo "| $name | skipped: $(grep '^skipped:' "$TMP/n.log" | head -1 | cut -c10-) | | |"
    continue
  fi
  if ! [[ "$zero" =~ ^[0-9]+$ && "$full" =~ ^[0-9]+$ ]]; then
    echo "| $name | failed (see above) | | |"
    continue
  fi
  per_op="$(awk -v a="$full" -v b="$zero" -v n="$N" 'BEGIN { printf "%.0f", (a - b) / n }')"
  echo "| $name | $zero | $full | $per_op |"
  rows+=("{\"subject\": \"$name\", \"ir0\": $zero, \"irN\": $full, \"perOp\": $per_op}")
done

mkdir -p "$(dirname "$OUT")"
{
  echo "{"
  echo "  \"valgrind\": \"$(valgrind --version)\", \"node\": \"$(node --version)\","
  echo "  \"size\": $SIZE, \"form\": \"$FORM\", \"n\": $N, \"warmup\": $WARMUP, \"date\": \"$(date -u +%FT%TZ)\","
  echo "  \"nodeFlags\": \"${NODE_FLAGS[*]}\","
  echo "  \"results\": ["
  for i in "${!rows[@]}"; do
    sep=","
    [ "$i" -eq $((${#rows[@]} - 1)) ] && sep=""
    echo "    ${rows[$i]}$sep"
  done
  echo "  ]"
  echo "}"
} >"$OUT"
echo
echo "Wrote $OUT"
