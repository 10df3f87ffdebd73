"""Configuration: one pydantic model read from the environment and validated once at start
(:mod:`.settings`), every URL in it read as its backend will read it (:mod:`.urls`), and
credentials from AWS Secrets Manager (:mod:`.secrets`)."""

from .settings import Settings, load_settings

__all__ = ["Settings", "load_settings"]
