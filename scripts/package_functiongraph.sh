#!/usr/bin/env bash
# Builds a zip ready to upload to Huawei FunctionGraph: the handlers at the zip root, the
# ocrflow package and its dependencies beside them, built for FunctionGraph's Python
# runtime (manylinux x86_64 wheels; FG_PYTHON, default 3.10).
#
#   scripts/package_functiongraph.sh dist/ocrflow-functiongraph.zip
#
# Handlers: handler.handler (recognize), redrive_handler.handler (redrive).
set -euo pipefail
OUT=${1:-dist/ocrflow-functiongraph.zip}
VENV=${VENV:-.venv}
PY="$(cd "$VENV/bin" && pwd)/python"
FG_PYTHON=${FG_PYTHON:-3.10}
EXTRAS=${EXTRAS-documents}   # Pillow, pillow-heif, pypdf for photos and PDF pages; obs:// needs
                             # nothing more (requests); add redis,amqp,kafka for those queues
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/pkg" "$WORK/wheel" "$(dirname "$OUT")"

"$PY" -m pip wheel -q --no-deps -w "$WORK/wheel" . >/dev/null
WHEEL=$(ls "$WORK"/wheel/ocrflow-*.whl)
SPEC="$WHEEL"
[ -n "$EXTRAS" ] && SPEC="$WHEEL[$EXTRAS]"
"$PY" -m pip install -q --target "$WORK/pkg" --platform manylinux2014_x86_64 --implementation cp \
  --python-version "$FG_PYTHON" --only-binary=:all: "$SPEC"
cp functions/recognize/handler.py "$WORK/pkg/handler.py"
cp functions/redrive/handler.py "$WORK/pkg/redrive_handler.py"
rm -rf "$WORK"/pkg/bin
bash "$(dirname "$0")/prune_tools.sh" "$WORK/pkg"  # the emulator and the chaos run are tools
OUT_ABS=$(cd "$(dirname "$OUT")" && pwd)/$(basename "$OUT")
rm -f "$OUT_ABS"
(cd "$WORK/pkg" && "$PY" -c "
import os, sys, zipfile
with zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_DEFLATED) as z:
    for root, _, files in os.walk('.'):
        for f in sorted(files):
            p = os.path.join(root, f)
            z.write(p, os.path.relpath(p, '.'))
" "$OUT_ABS")
FILES=$("$PY" -c "import sys, zipfile; print(len(zipfile.ZipFile(sys.argv[1]).namelist()))" "$OUT_ABS")
echo "$OUT ($(du -h "$OUT_ABS" | cut -f1), $FILES files): FunctionGraph Python $FG_PYTHON, handler handler.handler"
