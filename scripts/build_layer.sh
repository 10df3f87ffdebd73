#!/usr/bin/env bash
# Builds the Lambda layer the template deploys: DEST/python/ holds the ocrflow package and
# its runtime dependencies for the Lambda Python runtime (manylinux x86_64 wheels;
# LAYER_PYTHON, default 3.12), without the tools (scripts/prune_tools.sh).
#
#   scripts/build_layer.sh dist/layer
#
# boto3 is not added: the Lambda runtime has it.
set -euo pipefail
DEST=${1:-dist/layer}
VENV=${VENV:-.venv}
PY="$(cd "$VENV/bin" && pwd)/python"
LAYER_PYTHON=${LAYER_PYTHON:-3.12}
EXTRAS=${EXTRAS-documents}   # Pillow, pillow-heif, pypdf for photos and PDF pages; redis,amqp,kafka for those queues
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

"$PY" -m pip wheel -q --no-deps -w "$WORK/wheel" . >/dev/null
WHEEL=$(ls "$WORK"/wheel/ocrflow-*.whl)
SPEC="$WHEEL"
[ -n "$EXTRAS" ] && SPEC="$WHEEL[$EXTRAS]"
rm -rf "$DEST"
mkdir -p "$DEST/python"
"$PY" -m pip install -q --target "$DEST/python" --platform manylinux2014_x86_64 --implementation cp \
  --python-version "$LAYER_PYTHON" --only-binary=:all: "$SPEC"
rm -rf "$DEST/python/bin"
bash "$(dirname "$0")/prune_tools.sh" "$DEST/python"
echo "$DEST: Lambda layer for Python $LAYER_PYTHON ($(du -sh "$DEST" | cut -f1))"
