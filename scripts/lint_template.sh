#!/usr/bin/env bash
# Validates template.yaml offline: cfn-lint (which understands the SAM transform) and the SAM
# translator itself (the template must turn into plain CloudFormation).
set -euo pipefail
VENV=${VENV:-.venv}
"$VENV/bin/cfn-lint" --regions us-east-1 -- template.yaml
"$VENV/bin/python" - <<'PY'
import json, sys
sys.path.insert(0, ".")
from tests.unit.test_template import transform
out = transform()
print(f"SAM translator: {len(out['Resources'])} CloudFormation resources")
PY
