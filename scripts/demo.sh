#!/usr/bin/env bash
# `make run`: start the local OCR emulator on a free port, process samples/ with the
# embedded defaults (folder store, sqlite queues and idempotency), print what was
# recognised, and stop the emulator. No cloud account, no server to start by hand.
set -euo pipefail
VENV=${VENV:-.venv}
BIN="$VENV/bin"
STATE=.ocrflow/demo
rm -rf "$STATE" && mkdir -p "$STATE"
LOG="$STATE/emulator.log"

export HUAWEICLOUD_SDK_AK=demo-access-key HUAWEICLOUD_SDK_SK=demo-secret-key
export OCR_PROJECT_ID=demo-project OCRFLOW_STATE_DIR="$STATE"
# The emulator recognises one image at a time on this machine's CPU, so a request also waits
# for the ones sent before it: on a busy two-core machine that passed the 20 s read timeout,
# and each retry was a call the emulator billed twice. The service answers in about a second.
export OCR_READ_TIMEOUT_S=${OCR_READ_TIMEOUT_S:-120} OCR_DEADLINE_S=${OCR_DEADLINE_S:-300}

"$BIN/ocrflow" emulator --port 0 --credentials '{"demo-access-key": "demo-secret-key"}' >"$LOG" 2>&1 &
EMU=$!
trap 'kill $EMU 2>/dev/null; wait $EMU 2>/dev/null || true' EXIT
URL=""
for _ in $(seq 1 120); do
  URL=$(grep -o 'http://127\.0\.0\.1:[0-9]*' "$LOG" | head -n1 || true)
  [ -n "$URL" ] && break
  kill -0 $EMU 2>/dev/null || { echo "the emulator did not start:" >&2; cat "$LOG" >&2; exit 1; }
  sleep 0.5
done
[ -n "$URL" ] || { echo "the emulator did not report its address in time:" >&2; cat "$LOG" >&2; exit 1; }
echo "Local OCR emulator at $URL (recognition runs on this machine's CPU)"
export OCR_ENDPOINT="$URL/{region}"
echo
"$BIN/ocrflow" run samples --report "$STATE/report.html"
echo "(each message is a CloudEvent; $BIN/ocrflow queue dump prints them as JSON lines)"
echo "(the report shows each page with its recognised boxes and text: open it in a browser)"
