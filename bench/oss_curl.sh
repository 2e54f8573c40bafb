# Sourced by the curl-based bench scripts: starting a coffer server and sending V1-signed OSS
# requests with curl. The caller sets AK and SK (the root credentials the server is started with).

# oss_start_server BINARY DATA_DIR READY_FILE LOG_FILE
# Starts `BINARY server` on free loopback ports and waits for it; sets OSS_PID and OSS_ADDR.
oss_start_server() {
  COFFER_ROOT_ACCESS_KEY_ID="$AK" COFFER_ROOT_ACCESS_KEY_SECRET="$SK" RUST_LOG=warn \
    "$1" server --listen 127.0.0.1:0 --kms-listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 \
    --data-dir "$2" --root-key-file "$2.root-key" --ready-file "$3" 2>"$4" &
  OSS_PID=$!
  for _ in $(seq 1 100); do [ -s "$3" ] && break; sleep 0.1; done
  OSS_ADDR="$(sed -E 's/.*"oss": *"([^"]+)".*/\1/' "$3")"
}

# V1 signature of a request without Content-MD5: VERB, empty MD5, type, date, x-oss headers,
# resource. Prints the Date and Authorization header lines.
oss_sign() { # method content-type resource [canonical x-oss header line]
  local date; date="$(LC_ALL=C date -u '+%a, %d %b %Y %H:%M:%S GMT')"
  local extra=""; [ -n "${4:-}" ] && extra="$4"$'\n'
  local sig; sig="$(printf '%s\n\n%s\n%s\n%s%s' "$1" "$2" "$date" "$extra" "$3" \
    | openssl dgst -sha1 -hmac "$SK" -binary | base64)"
  printf 'Date: %s\nAuthorization: OSS %s:%s\n' "$date" "$AK" "$sig"
}

# oss_request ADDR METHOD RESOURCE CONTENT-TYPE X-OSS-HEADER [curl args...]
# X-OSS-HEADER is one "x-oss-name: value" header to send and sign, or "" for none.
oss_request() {
  local addr="$1" method="$2" resource="$3" ctype="$4" xhdr="$5"; shift 5
  local canon="" extra=()
  if [ -n "$xhdr" ]; then
    local name="${xhdr%%:*}" value="${xhdr#*: }"
    canon="${name,,}:$value"
    extra=(-H "$xhdr")
  fi
  local hdrs; hdrs="$(oss_sign "$method" "$ctype" "$resource" "$canon")"
  curl -sS -f -X "$method" -H "Content-Type: $ctype" -H "Expect:" \
    -H "$(sed -n 1p <<<"$hdrs")" -H "$(sed -n 2p <<<"$hdrs")" "${extra[@]}" \
    "http://$addr$resource" "$@"
}
