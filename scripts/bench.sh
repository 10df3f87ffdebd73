#!/usr/bin/env bash
# make bench: two small virtualenvs beside the project's own —
#   bench/.venv-sdk      the official Huawei OCR SDK, the baseline (never in the product's)
#   bench/.venv-runtime  only shared/requirements.txt, as the deployed function has it
# then bench/run.py measures every figure against its baseline in the same run.
set -euo pipefail
VENV=${VENV:-.venv}
SDK_VENV=$PWD/bench/.venv-sdk
RT_VENV=$PWD/bench/.venv-runtime
export PIP_DISABLE_PIP_VERSION_CHECK=1
if ! "$SDK_VENV/bin/python" -c "import huaweicloudsdkocr" 2>/dev/null; then
  python3 -m venv "$SDK_VENV"
  "$SDK_VENV/bin/pip" install -q huaweicloudsdkocr
fi
if [ ! -f "$RT_VENV/.installed" ] || [ shared/requirements.txt -nt "$RT_VENV/.installed" ]; then
  python3 -m venv "$RT_VENV"
  "$RT_VENV/bin/pip" install -q -r shared/requirements.txt
  touch "$RT_VENV/.installed"
fi
bash scripts/check_services.sh || true   # a figure whose service is down says "not available"
"$VENV/bin/python" bench/run.py --sdk-python "$SDK_VENV/bin/python" --runtime-python "$RT_VENV/bin/python" "$@"
