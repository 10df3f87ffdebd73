"""Bucket upload → OCR → queue. Entry point for AWS Lambda and Huawei FunctionGraph.

Handler path: ``functions/recognize/handler.handler`` (Lambda: ``handler.handler`` with
``CodeUri: functions/recognize``).
"""

from typing import Any

from ocrflow.handler import handle


def handler(event: Any, context: Any) -> dict[str, Any]:
    return handle(event, context, function="recognize")
