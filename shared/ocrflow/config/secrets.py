"""AK/SK from AWS Secrets Manager (``HUAWEICLOUD_SDK_SECRET_ARN``), so credentials never sit
in the template or the function's environment as plain text. The secret is JSON:
``{"ak": "...", "sk": "..."}`` (``HUAWEICLOUD_SDK_AK``/``_SK`` keys are accepted too)."""

from __future__ import annotations

import json

from ..adapters.aws import client, error_code
from ..core.errors import ConfigError
from .settings import Settings, credential_problem

VARIABLE = "HUAWEICLOUD_SDK_SECRET_ARN"


def with_secret_credentials(settings: Settings) -> Settings:
    """Fills AK/SK from the secret when it is configured and they are not set directly."""
    if not settings.credentials_secret or (settings.ak and settings.sk):
        return settings
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        raw = client("secretsmanager").get_secret_value(SecretId=settings.credentials_secret)["SecretString"]
    except (ClientError, BotoCoreError) as exc:
        raise ConfigError(VARIABLE, f"cannot read the secret ({error_code(exc)})") from None
    try:
        doc = json.loads(raw)
        ak = doc.get("ak") or doc.get("HUAWEICLOUD_SDK_AK")
        sk = doc.get("sk") or doc.get("HUAWEICLOUD_SDK_SK")
    except (ValueError, AttributeError):
        raise ConfigError(VARIABLE, 'the secret is not JSON like {"ak": "...", "sk": "..."}') from None
    if not ak or not sk or not isinstance(ak, str) or not isinstance(sk, str):
        raise ConfigError(VARIABLE, 'the secret needs "ak" and "sk"')
    for field, value in (("ak", ak), ("sk", sk)):
        if problem := credential_problem(field, value):
            raise ConfigError(VARIABLE, f"the secret's {field}: {problem}")
    return settings.model_copy(update={"ak": ak, "sk": sk})
