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

WORK="$(mktemp -d)"
trap 'kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; rm -rf "$WORK"' EXIT
AK="bench-ak"
SK="bench-secret-$RANDOM$RANDOM"
COFFER_ROOT_ACCESS_KEY_ID="$AK" COFFER_ROOT_ACCESS_KEY_SECRET="$SK" RUST_LOG=warn \
  "$BIN" server --listen 127.0.0.1:0 --kms-listen 127.0.0.1:0 --data-dir "$WORK/data" --ready-file "$WORK/ready" \
  2>"$WORK/server.log" &
PID=$!
for _ in $(seq 1 100); do [ -s "$WORK/ready" ] && break; sleep 0.1; done
ADDR="$(sed -E 's/.*"oss": *"([^"]+)".*/\1/' "$WORK/ready")"

# V1 signature of a request without Content-MD5: VERB, empty MD5, type, date, x-oss headers, resource.
sign() { # method content-type resource [x-oss header line]
  local date; date="$(LC_ALL=C date -u '+%a, %d %b %Y %H:%M:%S GMT')"
  local extra=""; [ -n "${4:-}" ] && extra="$4"$'\n'
  local sig; sig="$(printf '%s\n\n%s\n%s\n%s%s' "$1" "$2" "$date" "$extra" "$3" \
    | openssl dgst -sha1 -hmac "$SK" -binary | base64)"
  printf 'Date: %s\nAuthorization: OSS %s:%s\n' "$date" "$AK" "$sig"
}
request() { # method resource content-type [curl args...]
  local method="$1" resource="$2" ctype="$3"; shift 3
  local extra_canon="" extra_hdr=()
  if [ -n "${EXTRA_PUT_HEADER:-}" ] && [ "$method" = PUT ] && [ "$resource" != "/bench/" ]; then
    local name="${EXTRA_PUT_HEADER%%:*}" value="${EXTRA_PUT_HEADER#*: }"
    extra_canon="$(printf '%s:%s' "${name,,}" "$value")"
    extra_hdr=(-H "$EXTRA_PUT_HEADER")
  fi
  local hdrs; hdrs="$(sign "$method" "$ctype" "$resource" "$extra_canon")"
  curl -sS -f -X "$method" -H "Content-Type: $ctype" -H "Expect:" \
    -H "$(sed -n 1p <<<"$hdrs")" -H "$(sed -n 2p <<<"$hdrs")" "${extra_hdr[@]}" \
    "http://$ADDR$resource" "$@"
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
