"""The Pre-flight panel (a tab of the Details dock)."""
from .panel import PreflightPanel

__all__ = ["PreflightPanel"]
