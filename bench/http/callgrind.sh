#!/usr/bin/env bash
# Instructions per proxied request, a figure machine noise cannot move: each proxy (Fulcrum, the
# floor) runs under `valgrind --tool=callgrind`, is warmed up with WARM requests, then counted over
# N1 and over N2 requests (8 concurrent, 2-byte answers from nginx origins); the difference / (N2 − N1)
# is its steady-state cost in user-space instructions (kernel work is the same for both). Node runs
# with --single-threaded (JIT and GC on the main thread) so that background threads do not blur the
# count; REPS (2) runs per target show what variance is left.
# Needs valgrind and nginx; builds the packages first. Usage: bash bench/http/callgrind.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
WARM=${WARM:-8000}; N1=${N1:-2000}; N2=${N2:-6000}
command -v valgrind >/dev/null && command -v nginx >/dev/null || { echo "needs valgrind and nginx" >&2; exit 1; }
npx tsc -b packages/http-proxy packages/strategies
dir=$(mktemp -d); trap 'nginx -p "$dir" -c "$dir/nginx.conf" -s stop 2>/dev/null || true; rm -rf "$dir"' EXIT
ports=(19101 19102 19103); proxy=19100
cat > "$dir/nginx.conf" <<CONF
worker_processes 1; daemon on; pid $dir/nginx.pid; error_log $dir/error.log;
events { worker_connections 1024; }
http { access_log off; server { listen 127.0.0.1:${ports[0]}; listen 127.0.0.1:${ports[1]}; listen 127.0.0.1:${ports[2]}; location / { return 200 'ok'; } } }
CONF
nginx -p "$dir" -c "$dir/nginx.conf"
here=bench/http/callgrind
count() { # target n → instructions counted over n requests after the warm-up
  local out="$dir/cg.$1.$2"
  valgrind --tool=callgrind --callgrind-out-file="$out.%p" --smc-check=all-non-file \
    node --single-threaded "$here/$1.mjs" $proxy "${ports[@]}" >/dev/null 2>&1 &
  local vp=$!
  for _ in $(seq 1 240); do curl -s -o /dev/null "127.0.0.1:$proxy/" && break; sleep 0.5; done
  node "$here/client.mjs" $proxy "$WARM" 8
  callgrind_control -z $vp >/dev/null
  node "$here/client.mjs" $proxy "$2" 8
  callgrind_control -d $vp >/dev/null
  kill -INT $vp; wait $vp 2>/dev/null || true
  grep -h '^summary:' "$out".*.1 | awk '{print $2}'
  rm -f "$out".*
}
for rep in $(seq 1 "${REPS:-2}"); do
  for target in fulcrum floor; do
    a=$(count $target "$N1"); b=$(count $target "$N2")
    echo "rep $rep $target: $(( (b - a) / (N2 - N1) )) instructions/request ($a over $N1, $b over $N2 after $WARM warm-up)"
  done
done
