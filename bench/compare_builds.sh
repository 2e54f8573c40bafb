#!/usr/bin/env bash
# Compares coffer builds on the GET path: starts one server per binary, stores the same object
# once plain and once with SSE AES256 in each, then GETs them in turn (every binary, plain then
# AES256, round after round) and prints the medians of wall time and server CPU per GET.
# Alternating within one run keeps a drifting machine from favouring whichever build ran first.
#
#   bash bench/compare_builds.sh old/coffer target/release/coffer
#   SIZE_MIB=256 ROUNDS=31 bash bench/compare_builds.sh a/coffer b/coffer c/coffer
#
# Client: curl (lean; it shares the cores with the servers). The first round is not counted.
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: $0 COFFER_BINARY..." >&2; exit 2; }
SIZE_MIB="${SIZE_MIB:-1024}"
ROUNDS="${ROUNDS:-21}"
WORK="$(mktemp -d)"
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"' EXIT
AK="bench-ak"
SK="bench-secret-$RANDOM$RANDOM"
# shellcheck source=bench/oss_curl.sh
. "$(dirname "${BASH_SOURCE[0]}")/oss_curl.sh"
request() { # addr method resource content-type sse-or-empty [curl args...]
  local addr="$1" method="$2" resource="$3" ctype="$4" sse="$5"; shift 5
  oss_request "$addr" "$method" "$resource" "$ctype" "${sse:+x-oss-server-side-encryption: $sse}" "$@"
}
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

head -c "$((SIZE_MIB * 1024 * 1024))" /dev/urandom > "$WORK/object"
ADDRS=()
for i in $(seq 0 $(($# - 1))); do
  bin="${*:$((i + 1)):1}"
  oss_start_server "$bin" "$WORK/data$i" "$WORK/ready$i" "$WORK/server$i.log"
  PIDS+=("$OSS_PID")
  addr="$OSS_ADDR"
  ADDRS+=("$addr")
  request "$addr" PUT /bench/ "" "" -o /dev/null
  request "$addr" PUT /bench/plain application/octet-stream "" -T "$WORK/object" -o /dev/null
  request "$addr" PUT /bench/aes application/octet-stream AES256 -T "$WORK/object" -o /dev/null
done
rm "$WORK/object"

: > "$WORK/samples"
for round in $(seq 0 "$ROUNDS"); do
  for i in "${!ADDRS[@]}"; do
    for obj in plain aes; do
      c0="$(cpu_ticks "${PIDS[$i]}")"
      t="$(request "${ADDRS[$i]}" GET "/bench/$obj" "" "" -o /dev/null -w '%{time_total}')"
      c1="$(cpu_ticks "${PIDS[$i]}")"
      [ "$round" -gt 0 ] && echo "$i $obj $t $((c1 - c0))" >> "$WORK/samples"
    done
  done
done

ticks="$(getconf CLK_TCK)"
median() { # binary-index object column
  awk -v i="$1" -v o="$2" -v c="$3" '$1 == i && $2 == o { print $c }' "$WORK/samples" | sort -g \
    | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}
echo "$SIZE_MIB MiB GETs, $ROUNDS rounds, medians (server CPU in ${ticks} Hz ticks, shown in ms)"
printf '%-40s %9s %9s %9s %9s %11s %11s\n' binary "plain s" "AES s" "plain GB/s" "AES GB/s" "plain CPU" "AES CPU"
for i in "${!ADDRS[@]}"; do
  bin="${*:$((i + 1)):1}"
  pw="$(median "$i" plain 3)"; aw="$(median "$i" aes 3)"
  pc="$(median "$i" plain 4)"; ac="$(median "$i" aes 4)"
  awk -v b="$bin" -v pw="$pw" -v aw="$aw" -v pc="$pc" -v ac="$ac" -v n="$((SIZE_MIB * 1048576))" -v t="$ticks" \
    'BEGIN { printf "%-40s %9.3f %9.3f %9.2f %9.2f %9d ms %9d ms\n", b, pw, aw, n / pw / 1e9, n / aw / 1e9, pc * 1000 / t, ac * 1000 / t }'
done
