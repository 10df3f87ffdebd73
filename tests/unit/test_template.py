"""template.yaml: every handler and environment variable exists in the code and the
configuration model, least privilege, dead-letter queues with alarms, SQS batch settings;
and the SAM translator turns it into plain CloudFormation offline."""

from __future__ import annotations

import ast
import copy
import os
from pathlib import Path
from typing import Any

import yaml

from ocrflow.config.settings import ENV
from tests.conftest import ROOT

PLATFORM_VARS = {"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_LOG_LEVEL", "POWERTOOLS_METRICS_NAMESPACE"}


class CfnLoader(yaml.SafeLoader):
    pass


def _tag(loader: CfnLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


CfnLoader.add_multi_constructor("!", _tag)


def load() -> dict[str, Any]:
    return yaml.load((ROOT / "template.yaml").read_text("utf-8"), Loader=CfnLoader)  # noqa: S506


T = load()
RES = T["Resources"]
FUNCTIONS = {k: v for k, v in RES.items() if v["Type"] == "AWS::Serverless::Function"}
QUEUES = {k: v for k, v in RES.items() if v["Type"] == "AWS::SQS::Queue"}


def walk(obj: Any) -> Any:
    yield obj
    if isinstance(obj, dict):
        for v in obj.values():
            yield from walk(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from walk(v)


def test_every_handler_exists_in_the_code() -> None:
    assert set(FUNCTIONS) == {"RecognizeFunction", "RedriveFunction"}
    for fn in FUNCTIONS.values():
        module, func = fn["Properties"]["Handler"].rsplit(".", 1)
        path = ROOT / fn["Properties"]["CodeUri"] / f"{module}.py"
        tree = ast.parse(path.read_text("utf-8"))
        assert func in {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}, path


def test_every_environment_variable_is_read_by_the_configuration() -> None:
    known = {name for names in ENV.values() for name in names} | PLATFORM_VARS
    env = dict(T["Globals"]["Function"]["Environment"]["Variables"])
    for fn in FUNCTIONS.values():
        env.update(fn["Properties"].get("Environment", {}).get("Variables", {}))
    assert set(env) - known == set()
    assert {"OCR_REGION", "OCR_API_REGIONS", "OCR_PROJECT_ID", "OCR_ROUTES", "RESULT_QUEUE_URL",
            "FAILURE_QUEUE_URL", "IDEMPOTENCY_STORE_URL"} <= set(env)


def test_no_plain_text_credentials() -> None:
    env = T["Globals"]["Function"]["Environment"]["Variables"]
    assert "HUAWEICLOUD_SDK_SK" not in env and "HUAWEICLOUD_SDK_AK" not in env
    assert env["HUAWEICLOUD_SDK_SECRET_ARN"] == {"Ref": "OcrCredentialsSecretArn"}


def _text(value: Any) -> str | None:
    """A policy value as written: a string, or the template of a ``!Sub``."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Sub" in value:
        sub = value["Fn::Sub"]
        return sub if isinstance(sub, str) else sub[0]
    return None


def test_no_wildcard_actions_or_resources() -> None:
    """The only ``*`` allowed: the objects under one key prefix of one bucket."""
    for node in walk(RES):
        if isinstance(node, dict) and ("Action" in node or "Resource" in node):
            for field in ("Action", "Resource"):
                values = node.get(field, [])
                values = values if isinstance(values, list) else [values]
                for v in values:
                    text = _text(v)
                    if text is None or "*" not in text:
                        continue
                    assert field == "Resource" and text.count("*") == 1, node
                    bucket, _, prefix = text.split(":::", 1)[1].partition("/")
                    assert "*" not in bucket and prefix.endswith("/*") and len(prefix) > 2, node
    for fn in FUNCTIONS.values():
        for policy in fn["Properties"]["Policies"]:
            assert isinstance(policy, dict) and len(policy) == 1  # SAM policy templates, scoped


def test_every_queue_has_a_dead_letter_queue_and_every_dead_letter_queue_an_alarm() -> None:
    dlqs = {q["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
            for q in QUEUES.values() if "RedrivePolicy" in q["Properties"]}
    on_failure = {fn["Properties"]["EventInvokeConfig"]["DestinationConfig"]["OnFailure"]["Destination"]
                  ["Fn::GetAtt"][0] for fn in FUNCTIONS.values() if "EventInvokeConfig" in fn["Properties"]}
    redriven = {k for k, q in QUEUES.items() if "RedrivePolicy" in q["Properties"]}
    assert set(QUEUES) == dlqs | on_failure | redriven
    alarmed = {r["Properties"]["Dimensions"][0]["Value"]["Fn::GetAtt"][0]
               for r in RES.values() if r["Type"] == "AWS::CloudWatch::Alarm"}
    assert dlqs | on_failure <= alarmed


def test_sqs_event_source_reports_partial_failures_with_a_concurrency_cap() -> None:
    fn = FUNCTIONS["RecognizeFunction"]
    event = fn["Properties"]["Events"]["Uploads"]
    assert event["Type"] == "SQS"
    assert event["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert event["Properties"]["ScalingConfig"]["MaximumConcurrency"] == {"Ref": "MaximumConcurrency"}
    timeout = fn["Properties"].get("Timeout", T["Globals"]["Function"]["Timeout"])
    intake = event["Properties"]["Queue"]["Fn::GetAtt"][0]
    assert QUEUES[intake]["Properties"]["VisibilityTimeout"] >= 6 * timeout


def transform() -> dict[str, Any]:
    """The SAM transform, offline: local code paths become S3 locations as `sam package` does."""
    from samtranslator.translator.transform import transform as sam_transform

    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    template = copy.deepcopy(load())
    for res in template["Resources"].values():
        props = res.get("Properties", {})
        for key in ("CodeUri", "ContentUri"):
            if isinstance(props.get(key), str):
                props[key] = f"s3://ocrflow-artifacts/{Path(props[key]).name}.zip"

    class Policies:
        def load(self) -> dict[str, str]:
            return {}

    params = {"OcrProjectId": "0123456789abcdef", "AWS::Region": "us-east-1",
              "OcrCredentialsSecretArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:ocr-AbCdEf"}
    return sam_transform(template, params, Policies())  # type: ignore[no-any-return]


def test_the_sam_translator_accepts_the_template() -> None:
    out = transform()
    types = {r["Type"] for r in out["Resources"].values()}
    assert {"AWS::Lambda::Function", "AWS::Lambda::EventSourceMapping", "AWS::Lambda::LayerVersion",
            "AWS::IAM::Role"} <= types
    mapping = next(r for r in out["Resources"].values() if r["Type"] == "AWS::Lambda::EventSourceMapping")
    assert mapping["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


def test_the_fleet_rate_limit_is_a_parameter_that_the_configuration_accepts() -> None:
    import re

    from ocrflow.config.settings import load_settings

    param = T["Parameters"]["OcrMaxCallsPerSecond"]
    env = T["Globals"]["Function"]["Environment"]["Variables"]
    assert env["OCR_MAX_CALLS_PER_SECOND"] == {
        "Fn::If": ["HasRateLimit", {"Ref": "OcrMaxCallsPerSecond"}, {"Ref": "AWS::NoValue"}]}
    assert param["Default"] == ""  # no limit unless asked for
    # what the parameter lets through, the configuration accepts; what it refuses, it would too
    for value in ("10", "12.5", '{"general-text": 10, "vat-invoice": 5}'):
        assert re.fullmatch(param["AllowedPattern"], value)
        assert load_settings({"OCR_MAX_CALLS_PER_SECOND": value}).max_calls_per_second
    assert not re.fullmatch(param["AllowedPattern"], "ten")
    # the limiter's items live in the idempotency table: the function may read and write it
    policies = FUNCTIONS["RecognizeFunction"]["Properties"]["Policies"]
    assert {"DynamoDBCrudPolicy": {"TableName": {"Ref": "IdempotencyTable"}}} in policies


def test_s3_batch_operations_may_invoke_the_function_through_a_role_of_its_own() -> None:
    role = RES["BatchOperationsRole"]["Properties"]
    [trust] = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "batchoperations.s3.amazonaws.com"}
    assert trust["Action"] == "sts:AssumeRole"
    statements = {st["Sid"]: st for p in role["Policies"] for st in p["PolicyDocument"]["Statement"]}
    assert statements["InvokeRecognize"]["Action"] == "lambda:InvokeFunction"
    assert statements["InvokeRecognize"]["Resource"] == {"Fn::GetAtt": ["RecognizeFunction", "Arn"]}
    # manifests and reports under batch-operations/ of the results bucket, nothing else
    for sid in ("ReadManifests", "WriteCompletionReports"):
        assert "${ResultsBucket}/batch-operations/" in _text(statements[sid]["Resource"])  # type: ignore[operator]
    assert T["Outputs"]["BatchOperationsRoleArn"]["Value"] == {"Fn::GetAtt": ["BatchOperationsRole", "Arn"]}
    assert T["Outputs"]["RecognizeFunctionArn"]["Value"] == {"Fn::GetAtt": ["RecognizeFunction", "Arn"]}


def test_only_the_upload_buckets_inventory_may_write_to_the_results_bucket() -> None:
    [st] = RES["ResultsBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert st["Principal"] == {"Service": "s3.amazonaws.com"} and st["Action"] == "s3:PutObject"
    assert _text(st["Resource"]).endswith("/batch-operations/inventory/*")  # type: ignore[union-attr]
    upload_bucket = RES["IntakeQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"][0][
        "Condition"]["ArnLike"]["aws:SourceArn"]
    assert st["Condition"]["ArnLike"]["aws:SourceArn"] == upload_bucket
    assert st["Condition"]["StringEquals"]["aws:SourceAccount"] == {"Ref": "AWS::AccountId"}


def test_the_batch_operations_role_survives_the_sam_transform() -> None:
    out = transform()
    role = out["Resources"]["BatchOperationsRole"]
    assert role["Type"] == "AWS::IAM::Role"
    assert out["Resources"]["ResultsBucketPolicy"]["Type"] == "AWS::S3::BucketPolicy"
