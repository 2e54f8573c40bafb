#!/usr/bin/env bash
# PUT and GET of large objects against a release coffer on loopback, with curl as a lean client.
# Prints a table: size, run, PUT seconds and GB/s, GET seconds and GB/s, server peak RSS.
#
#   bash bench/put_get.sh                 # one 1 GiB object, 3 runs
#   SIZE_MIB=64 RUNS=5 bash bench/put_get.sh
#   EXTRA_PUT_HEADER='x-oss-server-side-encryption: AES256' bash bench/put_get.sh
#
# The server's peak RSS (VmHWM) is read from /proc after all runs; compare it across sizes to see
# that memory does not grow with object size.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

SIZE_MIB="${SIZE_MIB:-1024}"
RUNS="${RUNS:-3}"
BIN="${COFFER_BIN:-target/release/coffer}"
[ -x "$BIN" ] || cargo build --release -p coffer >&2

# shellcheck source=bench/oss_curl.sh
. bench/oss_curl.sh
WORK="$(mktemp -d)"
PID=""
trap 'kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; rm -rf "$WORK"' EXIT
AK="bench-ak"
SK="bench-secret-$RANDOM$RANDOM"
oss_start_server "$BIN" "$WORK/data" "$WORK/ready" "$WORK/server.log"
PID="$OSS_PID"
ADDR="$OSS_ADDR"

request() { # method resource content-type [curl args...]; EXTRA_PUT_HEADER goes on object PUTs
  local method="$1" resource="$2" ctype="$3" xhdr=""; shift 3
  if [ -n "${EXTRA_PUT_HEADER:-}" ] && [ "$method" = PUT ] && [ "$resource" != "/bench/" ]; then
    xhdr="$EXTRA_PUT_HEADER"
  fi
  oss_request "$ADDR" "$method" "$resource" "$ctype" "$xhdr" "$@"
}

request PUT /bench/ "" -o /dev/null
head -c "$((SIZE_MIB * 1024 * 1024))" /dev/urandom > "$WORK/object"
BYTES=$((SIZE_MIB * 1024 * 1024))

printf '%-9s %-4s %9s %8s %9s %8s\n' "size" "run" "PUT s" "PUT GB/s" "GET s" "GET GB/s"
for run in $(seq 1 "$RUNS"); do
  put="$(request PUT "/bench/object-$run" application/octet-stream -T "$WORK/object" -o /dev/null -w '%{time_total}')"
  get="$(request GET "/bench/object-$run" "" -o /dev/null -w '%{time_total}')"
  awk -v s="${SIZE_MIB}MiB" -v r="$run" -v p="$put" -v g="$get" -v b="$BYTES" \
    'BEGIN { printf "%-9s %-4s %9.3f %8.2f %9.3f %8.2f\n", s, r, p, b / p / 1e9, g, b / g / 1e9 }'
done
echo "server peak RSS: $(awk '/VmHWM/ {print $2, $3}' "/proc/$PID/status")"
