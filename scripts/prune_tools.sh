#!/usr/bin/env bash
# Removes what is a tool, not function code, from an installed ocrflow tree (the Lambda
# layer, the FunctionGraph zip): the local OCR emulator, the chaos run, and the document
# outputs (`ocrflow render`, the run report, their font). They stay in the package for
# `make run`, `ocrflow emulator`, `ocrflow render` and the tests.
#
#   scripts/prune_tools.sh DIR      (DIR holds the ocrflow/ package folder)
set -euo pipefail
DIR=${1:?usage: prune_tools.sh DIR}
[ -d "$DIR/ocrflow" ] || { echo "prune_tools: no ocrflow/ under $DIR" >&2; exit 2; }
rm -rf "$DIR/ocrflow/emulator" "$DIR/ocrflow/chaos.py" "$DIR/ocrflow/render.py" \
  "$DIR/ocrflow/report.py" "$DIR/ocrflow/words.py" "$DIR/ocrflow/outputs_cli.py" \
  "$DIR/ocrflow/data/glyphless.ttf"
find "$DIR" -name "__pycache__" -type d -prune -exec rm -rf {} +
