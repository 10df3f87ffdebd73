#!/usr/bin/env bash
# Removes what is a tool, not function code, from an installed ocrflow tree (the Lambda
# layer, the FunctionGraph zip): each tool is one subpackage folder — the local OCR emulator
# (ocrflow/emulator), the chaos run (ocrflow/chaos) and the document outputs (ocrflow/outputs:
# `ocrflow render`, the run report, their font). They stay in the package for `make run`,
# `ocrflow emulator`, `ocrflow render` and the tests.
#
#   scripts/prune_tools.sh DIR      (DIR holds the ocrflow/ package folder)
set -euo pipefail
DIR=${1:?usage: prune_tools.sh DIR}
[ -d "$DIR/ocrflow" ] || { echo "prune_tools: no ocrflow/ under $DIR" >&2; exit 2; }
TOOLS="emulator chaos outputs"
for tool in $TOOLS; do
  rm -rf "${DIR:?}/ocrflow/$tool"
done
find "$DIR" -name "__pycache__" -type d -prune -exec rm -rf {} +
