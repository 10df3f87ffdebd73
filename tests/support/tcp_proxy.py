"""A local TCP proxy a test can cut and restore, to put a real broker "down" and back (the
chaos tooling's own)."""

from ocrflow.chaos.run import TcpProxy

__all__ = ["TcpProxy"]
