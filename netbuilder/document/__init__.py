"""The open document without Qt: project, selection, run state and run history, with events.

The window's Qt Document (netbuilder/ui/document/document.py) wraps one `DocumentModel`."""
from .model import LOCK_TEXT, LOCKING_STATES, DocumentEvents, DocumentModel, RunRecord

__all__ = ["DocumentModel", "DocumentEvents", "RunRecord", "LOCK_TEXT", "LOCKING_STATES"]
