"""The Qt-free document model: its events, the edit lock derived from the run state, a
replacement that leaves nothing of the previous document, and one list of problems."""
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from netbuilder import examples
from netbuilder.core.project import DatasetChoice, Project
from netbuilder.document import DocumentModel, RunRecord


def test_training_and_dataset_changes_are_events_even_when_assigned_directly():
    m = DocumentModel(examples.load("spirals_mlp"))
    seen = []
    m.events.training_changed.connect(lambda s: seen.append(("training", s.epochs)))
    m.events.dataset_changed.connect(lambda d: seen.append(("dataset", d and d.name)))
    m.project.training = m.project.training.model_copy(update={"epochs": 7})
    m.project.dataset = DatasetChoice(name="moons")
    m.project.dataset = DatasetChoice(name="moons")  # the same value: no event
    m.project.dataset = None
    assert seen == [("training", 7), ("dataset", "moons"), ("dataset", None)]
    with pytest.raises(ValidationError):  # settings change by assignment only (an event)
        m.project.training.epochs = 3


def test_the_lock_follows_the_run_state_only():
    m = DocumentModel()
    locks = []
    m.events.lock_changed.connect(locks.append)
    for state in ("starting", "running", "pausing", "paused", "running", "stopping", "idle"):
        m.set_run_state(state)
    assert locks == [True, False, True, False]
    assert not m.locked and m.lock_reason == ""
    m.set_run_state("running")
    assert m.locked and "pause it" in m.lock_reason


def test_replace_leaves_nothing_of_the_previous_document():
    a = examples.load("spirals_mlp")
    m = DocumentModel(a)
    m.set_selection(["n2", "no-such-node"])
    assert m.selection == ("n2",)
    m.add_run(RunRecord(out_dir=Path("/tmp/run-a"), status="completed"))
    m.set_run_state("running")
    with pytest.raises(RuntimeError, match="stop the training run"):
        m.replace(Project())
    m.set_run_state("idle")
    events = []
    m.events.project_replaced.connect(lambda: events.append("replaced"))
    m.events.runs_changed.connect(lambda: events.append("runs"))
    b = examples.load("digits_mlp")
    m.replace(b)
    assert m.project is b and m.selection == () and m.runs == []
    assert events == ["replaced", "runs"]
    # the old project no longer drives this document's events
    seen = []
    m.events.dataset_changed.connect(seen.append)
    a.dataset = None
    assert seen == []


def test_analysis_includes_the_dataset_fit_in_validate_words():
    from netbuilder.api import validate

    p = examples.load("spirals_mlp")
    p.graph.set_params("n6", {"out_features": 32})
    m = DocumentModel(p)
    from netbuilder.core.shapes import ShapeInference

    si = ShapeInference(p.graph)
    try:
        got = [(q.severity, q.message) for q in m.analyze(si)]
    finally:
        si.close()
    assert got == [(q.severity, q.message) for q in validate(p)]
    assert any("2 classes" in msg for sev, msg in got if sev == "error")


def test_the_model_needs_no_qt():
    code = ("import sys, netbuilder.document;"
            "assert not any(m.startswith(('PySide6', 'shiboken6')) for m in sys.modules)")
    subprocess.run([sys.executable, "-c", code], check=True)
