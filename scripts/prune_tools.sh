#!/usr/bin/env bash
# Removes what is a tool, not function code, from an installed ocrflow tree (the Lambda
# layer, the FunctionGraph zip): the local OCR emulator and the chaos run. They stay in the
# package for `make run`, `ocrflow emulator` and the tests.
#
#   scripts/prune_tools.sh DIR      (DIR holds the ocrflow/ package folder)
set -euo pipefail
DIR=${1:?usage: prune_tools.sh DIR}
[ -d "$DIR/ocrflow" ] || { echo "prune_tools: no ocrflow/ under $DIR" >&2; exit 2; }
rm -rf "$DIR/ocrflow/emulator" "$DIR/ocrflow/chaos.py"
find "$DIR" -name "__pycache__" -type d -prune -exec rm -rf {} +
