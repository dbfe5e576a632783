#!/usr/bin/env bash
# The whole toolkit once, as a vendor and a customer would run it, in a temporary directory
# removed at the end: vendor key -> portal (SQLite) -> license issued and registered -> hub
# activated and pinging -> two runners enrolled and checked -> a third refused (limit 2).
#
#   bash demo.sh                      # builds the release binaries first
#   TESSERA_BIN_DIR=target/debug bash demo.sh   # use binaries already built
#
# The runners keep their cache key in the kernel keyring; where the process has no session
# keyring (containers), the demo runs itself under `keyctl session -` when keyctl exists.
set -euo pipefail
cd "$(dirname "$0")"

if [ -z "${TESSERA_DEMO_IN_SESSION:-}" ] && command -v keyctl >/dev/null 2>&1; then
  export TESSERA_DEMO_IN_SESSION=1
  exec keyctl session - bash "$0" "$@"
fi

if [ -z "${TESSERA_BIN_DIR:-}" ]; then
  echo "building the release binaries (first time: a few minutes)..."
  cargo build --release --quiet -p tessera-cli -p tessera-portal -p tessera-hub -p tessera-runner-agent
  BIN="$PWD/target/release"
else
  BIN="$(cd "$TESSERA_BIN_DIR" && pwd)"
fi
for b in tessera tessera-portal tessera-hub tessera-runner; do
  [ -x "$BIN/$b" ] || { echo "demo: $BIN/$b is missing" >&2; exit 1; }
done

WORK="$(mktemp -d "${TMPDIR:-/tmp}/tessera-demo-XXXXXX")"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  for r in r1 r2 r3; do
    [ -d "$WORK/$r" ] && "$BIN/tessera-runner" --state-dir "$WORK/$r" --keystore keyutils uninstall >/dev/null 2>&1 || true
  done
  rm -rf "$WORK"
}
trap cleanup EXIT
export TESSERA_LOG=warn
step() { printf '\n[%s] %s\n' "$1" "$2"; }
# Reads the first line a background process prints (its listening address) from a file.
wait_line() {
  for _ in $(seq 1 100); do
    if [ -s "$1" ]; then head -n 1 "$1"; return 0; fi
    sleep 0.1
  done
  echo "demo: no answer in $1" >&2; return 1
}

echo "Tessera demo in $WORK (removed at the end)"

step 1 "vendor: make a signing key"
"$BIN/tessera" keygen --out-dir "$WORK/vendor" --no-passphrase | sed 's/^/    /'

step 2 "vendor: start a portal on an embedded SQLite file, delegate its receipt key"
"$BIN/tessera-portal" receipt-key --data-dir "$WORK/portal" >/dev/null
"$BIN/tessera" delegate --key "$WORK/vendor/signing.key" --portal-key "$WORK/portal/receipt.pub" \
  --out "$WORK/portal/delegation.txt" | sed 's/^/    /'
API_KEY="$("$BIN/tessera-portal" api-key create --scope read,write --data-dir "$WORK/portal" 2>/dev/null)"
"$BIN/tessera-portal" serve --listen 127.0.0.1:0 --data-dir "$WORK/portal" \
  --trust "$WORK/vendor/signing.pub" --delegation "$WORK/portal/delegation.txt" >"$WORK/portal.out" &
PIDS+=($!)
PORTAL="http://$(wait_line "$WORK/portal.out" | sed 's/^listening on //')"
echo "    portal listening at $PORTAL"

step 3 "vendor: issue a license for 2 runners and register it with the portal"
TESSERA_API_KEY="$API_KEY" "$BIN/tessera" issue --key "$WORK/vendor/signing.key" --org "Demo Customer Ltd" --product demo-hub \
  --runners 2 --expires 2099-12-31 --portal-url "$PORTAL" --out "$WORK/demo.license" \
  --register "$PORTAL" | sed 's/^/    /'

step 4 "customer hub: activate (license checked offline, then the portal binds this host)"
"$BIN/tessera-hub" --state-dir "$WORK/hub" activate --license "$WORK/demo.license" \
  --trust "$WORK/vendor/signing.pub" | sed 's/^/    /'
"$BIN/tessera-hub" --state-dir "$WORK/hub" status | sed 's/^/    /'

step 5 "customer hub: run the daemon (pings the portal, serves runners)"
TESSERA_LOG=info "$BIN/tessera-hub" --state-dir "$WORK/hub" run --runner-listen 127.0.0.1:0 >"$WORK/hub.out" 2>"$WORK/hub.log" &
PIDS+=($!)
HUB="http://$(wait_line "$WORK/hub.out" | sed 's/^runners: listening on //')"
for _ in $(seq 1 50); do grep -q "ping answered" "$WORK/hub.log" && break; sleep 0.1; done
echo "    hub serving runners at $HUB; $(grep -c 'ping answered' "$WORK/hub.log") ping answered"

step 6 "customer runners: enroll two, check them offline"
for r in r1 r2; do
  # The token goes through the environment, never the command line; it enrolls one runner.
  TESSERA_RUNNER_TOKEN="$("$BIN/tessera-hub" --state-dir "$WORK/hub" runner-token 2>/dev/null)" \
    "$BIN/tessera-runner" --state-dir "$WORK/$r" --keystore keyutils install --hub "$HUB" \
    --label "$r" --trust "$WORK/vendor/signing.pub" | sed "s/^/    $r install: /"
  set +e
  "$BIN/tessera-runner" --state-dir "$WORK/$r" --keystore keyutils check | sed "s/^/    $r check: /"
  code=${PIPESTATUS[0]}
  set -e
  echo "    $r check exit code: $code"
  [ "$code" -eq 0 ] || { echo "demo: runner $r should be valid" >&2; exit 1; }
done

step 7 "customer runners: a third one is refused (the license allows 2)"
set +e
TESSERA_RUNNER_TOKEN="$("$BIN/tessera-hub" --state-dir "$WORK/hub" runner-token 2>/dev/null)" \
  "$BIN/tessera-runner" --state-dir "$WORK/r3" --keystore keyutils install --hub "$HUB" \
  --label r3 --trust "$WORK/vendor/signing.pub" 2>&1 | sed 's/^/    r3 install: /'
code=${PIPESTATUS[0]}
"$BIN/tessera-runner" --state-dir "$WORK/r3" --keystore keyutils check 2>&1 | sed 's/^/    r3 check: /'
set -e
echo "    r3 install exit code: $code (8: the hub refused)"
[ "$code" -eq 8 ] || { echo "demo: the third runner should be refused" >&2; exit 1; }

step 8 "customer hub: status"
"$BIN/tessera-hub" --state-dir "$WORK/hub" status | sed 's/^/    /'

printf '\ndemo finished: every step gave the status it should\n'
