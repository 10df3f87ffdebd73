"""deploy/huaweicloud, checked offline as the SAM template is: every resource and data source
against the provider's pinned schema, and what the stack promises (a function agency and no
key, a trigger on object creation only, a failure destination, least privilege, alarms on the
metrics the functions report)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from ocrflow.config.settings import ENV
from ocrflow.observability.metrics import DEFAULT_CES_NAMESPACE, Metrics
from scripts.pin_terraform_schema import used_types
from tests.support.terraform import (
    CONFIG,
    Block,
    blocks,
    blocks_of,
    one,
    parse_text,
    parsed_files,
    problems,
    problems_in,
    schema,
    top_level,
)

KEY_VARIABLES = {"HUAWEICLOUD_SDK_AK", "HUAWEICLOUD_SDK_SK", "HUAWEICLOUD_SDK_SECURITY_TOKEN",
                 "HUAWEICLOUD_SDK_SECRET_ARN", "OCR_IAM_TOKEN", "AWS_ACCESS_KEY_ID",
                 "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"}


def ref(expression: str) -> str:
    """``${a.b.c}`` -> ``a.b.c``."""
    return expression.removeprefix("${").removesuffix("}")


def environment_keys(local: str) -> set[str]:
    """The variable names a ``{ for k, v in { NAME = … } : … }`` local sets."""
    return set(re.findall(r"\b([A-Z][A-Z0-9_]{2,})\s*=", top_level("locals")[local]))


# ---- the pinned schema --------------------------------------------------------------------

def test_the_provider_is_pinned_to_the_version_of_the_pinned_schema() -> None:
    terraform = parsed_files()["versions.tf"]["terraform"][0]
    provider = terraform["required_providers"][0]["huaweicloud"]
    pinned = schema()["provider"]
    assert provider["source"] == pinned["source"] == "huaweicloud/huaweicloud"
    assert provider["version"] == f"= {pinned['version']}"
    assert re.fullmatch(r"[0-9a-f]{40}", pinned["commit"])
    assert pinned["tag"] == f"v{pinned['version']}"


def test_exactly_the_types_the_configuration_uses_are_pinned() -> None:
    used = used_types(CONFIG)
    assert set(schema()["resources"]) == used["resource"]
    assert set(schema()["data_sources"]) == used["data"]


@pytest.mark.parametrize("block", blocks(), ids=lambda b: b.address)
def test_every_block_is_one_the_provider_takes(block: Block) -> None:
    assert problems(block) == []


@pytest.mark.parametrize("snippet, expected", [
    ('resource "huaweicloud_lts_group" "g" {\n  group_name = "x"\n  ttl_in_days = 7\n  colour = "red"\n}',
     "no argument 'colour'"),
    ('resource "huaweicloud_lts_group" "g" {\n  group_name = "x"\n}',
     "required argument 'ttl_in_days' missing"),
    ('resource "huaweicloud_lts_group" "g" {\n  group_name = "x"\n  ttl_in_days = 7\n  id = "y"\n}',
     "'id' is computed by the provider"),
    ('resource "huaweicloud_ces_alarmrule" "a" {\n  alarm_name = "x"\n}', "block 'metric' required"),
    ('resource "huaweicloud_fgs_async_invoke_configuration" "c" {\n  function_urn = "u"\n'
     '  max_async_event_age_in_seconds = 1\n  max_async_retry_attempts = 1\n'
     '  on_failure {\n    destination = "OBS"\n  }\n}', "required argument 'param' missing"),
    ('resource "huaweicloud_fgs_async_invoke_configuration" "c" {\n  function_urn = "u"\n'
     '  max_async_event_age_in_seconds = 1\n  max_async_retry_attempts = 1\n'
     '  on_failure {\n    destination = "OBS"\n    param = "{}"\n  }\n'
     '  on_failure {\n    destination = "SMN"\n    param = "{}"\n  }\n}', "at most 1 'on_failure'"),
    ('resource "huaweicloud_lambda_function" "f" {\n  name = "x"\n}',
     "not a huaweicloud/huaweicloud resource"),
    ('resource "huaweicloud_identity_agency" "a" {\n  name = "x"\n  delegated_domain_name = "op_svc_cff"\n'
     '  dynamic "project_roles" {\n    for_each = {}\n    content {\n      project = "p"\n    }\n  }\n}',
     "no block 'project_roles'"),
])
def test_the_schema_check_finds_what_the_provider_would_refuse(snippet: str, expected: str) -> None:
    [block] = list(blocks_of(parse_text(snippet)))
    found = problems(block)
    assert any(expected in p for p in found), found


def test_nested_blocks_are_checked_too() -> None:
    spec = schema()["resources"]["huaweicloud_fgs_trigger"]
    body = {"function_urn": "u", "type": "OBS",
            "obs": [{"bucket_name": "b", "events": ["ObjectCreated"], "__is_block__": True}]}
    assert problems_in(body, spec, "t") == ["t.obs: required argument 'event_notification_name' missing"]


# ---- variables and outputs ----------------------------------------------------------------

def test_every_variable_and_output_says_what_it_is() -> None:
    for name, spec in top_level("variable").items():
        assert spec.get("description", "").strip(), f"variable {name} has no description"
        assert "type" in spec, f"variable {name} has no type"
    for name, spec in top_level("output").items():
        assert spec.get("description", "").strip(), f"output {name} has no description"


def test_variables_with_a_closed_domain_are_validated() -> None:
    variables = top_level("variable")
    for name in ("region", "name", "upload_bucket", "trigger", "failure_destination",
                 "max_async_retry_attempts", "max_async_event_age_seconds", "memory_size",
                 "metrics_namespace", "ocr_routes", "result_queue_url", "log_ttl_days"):
        assert variables[name].get("validation"), f"variable {name} is not validated"


def test_secrets_are_sensitive_and_no_variable_is_an_access_key() -> None:
    variables = top_level("variable")
    for name in ("result_queue_url", "failure_queue_url", "idempotency_store_url", "redis_password",
                 "rabbitmq_password"):
        assert variables[name].get("sensitive") is True, name
    for name in variables:
        assert not re.search(r"(^|_)(ak|sk|access_key|secret_key|security_token)($|_)", name), name


# ---- what the stack promises ------------------------------------------------------------------

def functions() -> dict[str, Any]:
    """``local.functions``: what differs between recognize and redrive (one resource, for_each)."""
    [function] = blocks("huaweicloud_fgs_function")
    assert ref(function.body["for_each"]) == "local.functions"
    return top_level("locals")["functions"]  # type: ignore[no-any-return]


def test_both_functions_run_with_the_function_agency_of_functiongraph() -> None:
    assert set(functions()) == {"recognize", "redrive"}
    [function] = blocks("huaweicloud_fgs_function")
    assert ref(function.body["agency"]) == "huaweicloud_identity_agency.function.name"
    agency = one("huaweicloud_identity_agency", "function")
    assert agency["delegated_domain_name"] == "op_svc_cff"  # the FunctionGraph service


def test_no_key_anywhere() -> None:
    provider = parsed_files()["versions.tf"]["provider"][0]["huaweicloud"]
    assert set(provider) - {"__is_block__"} == {"region"}
    assert not blocks("huaweicloud_identity_access_key")
    for local in ("environment", "secret_environment"):
        assert environment_keys(local).isdisjoint(KEY_VARIABLES), local
    text = "\n".join(p.read_text() for p in CONFIG.glob("*.tf"))
    assert not re.search(r"HUAWEICLOUD_SDK_(AK|SK)|access_key\s*=|secret_key\s*=", text)


def test_the_function_variables_are_ones_ocrflow_reads() -> None:
    known = {name for names in ENV.values() for name in names}
    for local in ("environment", "secret_environment"):
        keys = environment_keys(local)
        assert keys and keys <= known, keys - known
    # on FunctionGraph the metrics go to Cloud Eye, in the region of the functions
    env = top_level("locals")["environment"]
    assert re.search(r'OCR_METRICS\s*=\s*"ces"', env)
    assert top_level("locals")["ces_endpoint"] == "https://ces.${var.region}.myhuaweicloud.com"
    # URLs that may carry a password are encrypted variables, never plain ones
    assert environment_keys("secret_environment") == {"RESULT_QUEUE_URL", "FAILURE_QUEUE_URL",
                                                      "IDEMPOTENCY_STORE_URL"}
    for function in blocks("huaweicloud_fgs_function"):
        assert "local.secret_environment" in function.body["encrypted_user_data"]
        assert ref(function.body["user_data"]) == "jsonencode(local.environment)"


def test_the_trigger_fires_on_object_creation_only() -> None:
    obs = one("huaweicloud_fgs_trigger", "uploads")
    assert obs["type"] == "OBS"
    [spec] = obs["obs"]
    assert spec["events"] == ["ObjectCreated"]
    assert ref(spec["bucket_name"]) == "local.upload_bucket"
    assert "var.upload_prefix" in spec["prefix"] and "var.upload_suffix" in spec["suffix"]
    eventgrid = one("huaweicloud_fgs_function_trigger", "uploads_eventgrid")
    assert eventgrid["type"] == "EVENTGRID"
    types = re.search(r"event_types = \[(.*?)\]", eventgrid["event_data"])
    assert types is not None
    kinds = re.findall(r'"([^"]+)"', types.group(1))
    assert kinds and all(k.startswith("OBS:DWR:ObjectCreated:") for k in kinds)
    # exactly one of them exists, as var.trigger says
    assert obs["count"] == '${var.trigger == "obs" ? 1 : 0}'
    assert eventgrid["count"] == '${var.trigger == "eventgrid" ? 1 : 0}'


def test_failed_asynchronous_invocations_have_a_destination() -> None:
    config = one("huaweicloud_fgs_async_invoke_configuration", "recognize")
    assert ref(config["function_urn"]) == 'huaweicloud_fgs_function.functions["recognize"].urn'
    [on_failure] = config["on_failure"]
    assert ref(on_failure["destination"]) == "var.failure_destination"
    variable = top_level("variable")["failure_destination"]
    assert variable["default"] == "OBS"
    # both destinations name something this stack creates (or the topic it is given)
    assert "huaweicloud_obs_bucket.artifacts.bucket" in on_failure["param"]
    assert "local.failed_path" in on_failure["param"]
    assert "local.alarm_topic_urn" in on_failure["param"]
    assert "huaweicloud_smn_topic.alarms" in top_level("locals")["alarm_topic_urn"]
    assert ref(config["max_async_retry_attempts"]) == "var.max_async_retry_attempts"
    assert ref(config["max_async_event_age_in_seconds"]) == "var.max_async_event_age_seconds"


def obs_statements() -> list[dict[str, Any]]:
    policy = one("huaweicloud_identity_role", "obs")["policy"]
    # jsonencode({...}) of HCL objects: read the actions and resources from the text
    statements = re.findall(r"\{Effect = \"Allow\", Action = \[(.*?)\], Resource = \[(.*?)\]\}", policy)
    return [{"actions": re.findall(r'"([^"]+)"', a), "resources": re.findall(r'"([^"]+)"', r)}
            for a, r in statements]


def test_the_agency_has_least_privilege() -> None:
    statements = obs_statements()
    assert len(statements) == 3
    actions = {a for s in statements for a in s["actions"]}
    assert actions == {"obs:object:GetObject", "obs:object:GetObjectVersion", "obs:object:PutObject"}
    by_action: dict[str, set[str]] = {}
    for s in statements:
        for a in s["actions"]:
            by_action.setdefault(a, set()).update(s["resources"])
    assert by_action["obs:object:GetObjectVersion"] == {
        "obs:*:*:object:${var.upload_bucket}/${var.upload_prefix}*"}
    # writes: the claim-check prefix and the failure destination, in the artifacts bucket only
    assert by_action["obs:object:PutObject"] == {
        "obs:*:*:object:${local.artifacts_bucket}/${local.claim_check_path}*",
        "obs:*:*:object:${local.artifacts_bucket}/${local.failed_path}*"}
    assert all("*:*:object:" in r and not r.endswith(":*") for s in statements for r in s["resources"])
    metrics = one("huaweicloud_identity_role", "metrics")
    assert metrics["type"] == "XA"
    assert re.findall(r'Action = \["([^"]+)"\]', metrics["policy"]) == ["ces:metricData:create"]
    vpc = one("huaweicloud_identity_role", "vpc")
    assert vpc["count"] == "${local.in_vpc ? 1 : 0}"
    agency = one("huaweicloud_identity_agency", "function")
    assert "all_resources_roles" not in agency  # nothing granted everywhere
    assert ref(agency["domain_roles"][0]) == "huaweicloud_identity_role.obs.name"
    roles = top_level("locals")["project_roles"]
    # OCR in each package region's project; Cloud Eye (and VPC) where the functions run
    assert "contains(local.ocr_regions, region) ? [local.ocr_role]" in roles
    assert "region == var.region ? [huaweicloud_identity_role.metrics.name]" in roles
    locals_ = top_level("locals")
    assert locals_["ocr_role"] == "OCR FullAccess"
    assert locals_["ocr_regions"] == "${toset(concat([local.ocr_region], values(var.ocr_api_regions)))}"


def test_results_written_by_the_functions_cannot_trigger_them() -> None:
    """The claim-check prefix and the failure destination are in the artifacts bucket, which no
    trigger watches: a result stored by the function is never an upload."""
    locals_ = top_level("locals")
    env = locals_["environment"]
    assert "CLAIM_CHECK_URL = \"obs://${local.artifacts_bucket}/${local.claim_check_path}\"" in env
    assert locals_["artifacts_bucket"] == \
        '${var.artifacts_bucket != "" ? var.artifacts_bucket : "${var.upload_bucket}-ocrflow"}'
    obs_trigger = one("huaweicloud_fgs_trigger", "uploads")["obs"][0]
    assert ref(obs_trigger["bucket_name"]) == "local.upload_bucket"


def test_logs_go_to_the_stacks_lts_group_and_stream() -> None:
    for function in blocks("huaweicloud_fgs_function"):
        body = function.body
        assert body["enable_lts_log"] is True
        assert ref(body["log_group_id"]) == "huaweicloud_lts_group.functions.id"
        assert ref(body["log_stream_id"]) == "huaweicloud_lts_stream.functions.id"


def test_the_code_is_the_zip_make_package_builds() -> None:
    variables = top_level("variable")
    assert variables["package_path"]["default"] == "../../dist/ocrflow-functiongraph.zip"
    code = one("huaweicloud_obs_bucket_object", "code")
    assert ref(code["source"]) == "var.package_path"
    for function in blocks("huaweicloud_fgs_function"):
        assert function.body["code_type"] == "obs" and ref(function.body["code_url"]) == "local.code_url"
        assert function.body["runtime"] == "Python3.10"
    handlers = {name: spec["handler"] for name, spec in functions().items()}
    assert handlers == {"recognize": "handler.handler", "redrive": "redrive_handler.handler"}
    [function] = blocks("huaweicloud_fgs_function")
    assert ref(function.body["handler"]) == "each.value.handler"
    package = (CONFIG.parents[1] / "scripts" / "package_functiongraph.sh").read_text()
    assert "redrive_handler.py" in package and "handler.py" in package


def test_alarms_watch_function_errors_and_the_ocr_failures_the_functions_report() -> None:
    errors = one("huaweicloud_ces_alarmrule", "function_errors")
    assert errors["metric"][0]["namespace"] == "SYS.FunctionGraph"
    [condition] = errors["condition"]
    assert condition["metric_name"] == "failcount"
    [dimension] = errors["resources"][0]["dimensions"]
    assert dimension == {"name": "package-functionname", "value": "default-${each.value}",
                         "__is_block__": True}
    assert errors["for_each"] == "${{for key, function in local.functions : key => function.name}}"
    ocr = one("huaweicloud_ces_alarmrule", "ocr_failures")
    assert ref(ocr["metric"][0]["namespace"]) == "var.metrics_namespace"
    assert top_level("variable")["metrics_namespace"]["default"] == DEFAULT_CES_NAMESPACE
    assert [d["name"] for d in ocr["resources"][0]["dimensions"]] == ["api", "region"]
    [condition] = ocr["condition"]
    # the metric name the functions send (the same as in the EMF documents)
    metrics = Metrics("ns", "svc", mode="emf")
    metrics.record_call("general-text", "cn-north-4", False, 1.0)
    [doc] = metrics.documents()
    assert condition["metric_name"] in doc and condition["metric_name"] == "OcrCallsFailed"
    for rule in (errors, ocr):
        assert ref(rule["alarm_actions"][0]["notification_list"][0]) == "local.alarm_topic_urn"


def test_outputs_tell_what_a_user_needs_next() -> None:
    outputs = top_level("output")
    assert {"upload_bucket", "result_queue_url", "failure_destination", "recognize_function_urn",
            "redrive_function_urn", "log_group_id", "alarm_topic_urn"} <= set(outputs)
    assert outputs["result_queue_url"]["sensitive"] is True


def test_the_example_variables_file_parses_and_names_only_declared_variables() -> None:
    example = parse_text((CONFIG / "terraform.tfvars.example").read_text())
    assert set(example) <= set(top_level("variable")), set(example) - set(top_level("variable"))
    assert json.dumps(example).count("password") == 0  # passwords come from TF_VAR_, not files


@pytest.mark.parametrize("have_terraform, env, expected", [
    (False, {}, "needs Terraform"),
    (True, {}, "needs Huawei Cloud credentials"),
    (True, {"HW_ACCESS_KEY": "AK"}, "HW_SECRET_KEY is not"),
])
def test_make_deploy_huaweicloud_says_what_is_missing(tmp_path: Any, have_terraform: bool,
                                                      env: dict[str, str], expected: str) -> None:
    import shutil
    import subprocess

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("make", "sh", "bash"):
        found = shutil.which(tool)
        assert found is not None
        (bin_dir / tool).symlink_to(found)
    if have_terraform:  # a stand-in that records being called: it must not be
        (bin_dir / "terraform").write_text(f"#!/bin/sh\ntouch {tmp_path}/terraform-ran\n")
        (bin_dir / "terraform").chmod(0o755)
    run = subprocess.run(["make", "-s", "deploy-huaweicloud"], cwd=CONFIG.parents[1],
                         env={"PATH": str(bin_dir), "HOME": str(tmp_path), **env},
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 2
    assert expected in run.stderr
    assert not (tmp_path / "terraform-ran").exists()
