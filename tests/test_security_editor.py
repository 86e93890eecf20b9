"""Opening a hostile project in the editor (MainWindow's public open path) refuses it with
a message naming the problem; the open project stays as it was and nothing runs. The
question about an untrusted package names the classes and functions the file wants."""
import json

import pytest
from PySide6.QtWidgets import QMessageBox

from netbuilder import examples
from netbuilder.core import allowlist

from window_util import open_window

import hostile
from test_security_corpus import snapshot, write_corpus


@pytest.fixture
def window(qtbot, tmp_path, monkeypatch):
    w = open_window(qtbot, tmp_path, monkeypatch)
    return w


def test_the_editor_refuses_every_hostile_file(window, tmp_path, monkeypatch):
    w = window
    w.doc.set_project(examples.load("digits_mlp"))
    before_graph = w.doc.graph.signature()
    folder = tmp_path / "corpus"
    folder.mkdir()
    marker, files = write_corpus(folder)
    before = snapshot(folder)
    shown = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *a: shown.append(a[2]))
    asked = []
    w.ask = lambda *a, **k: (asked.append(a[2]), QMessageBox.No)[1]
    for name, (path, why) in sorted(files.items()):
        assert not w.open_path(path), name
        assert shown and why in shown[-1] and "node 'evil'" in shown[-1], (name, shown[-1:])
        assert w.doc.graph.signature() == before_graph, name
    assert asked == []  # nothing here is a package one could trust: refused outright
    assert not marker.exists() and snapshot(folder) == before


def test_giant_files_open_without_allocating(window, tmp_path):
    """Inspecting needs shapes only (meta device): the editor opens a 10¹²-parameter file
    and shows its size; train and export are what refuse it (test_security_corpus)."""
    path = tmp_path / "giant.json"
    path.write_text(json.dumps(hostile.GIANT["linear_1e6_by_1e6"][0]))
    assert window.open_path(path)
    window.doc.refresh()
    params = sum(info.params for info in window.doc.infos.values())
    assert params == 1_000_000 * 1_000_000 + 1_000_000


@pytest.fixture
def forget_trust():
    saved = set(allowlist._trusted_extra)
    yield
    allowlist._trusted_extra.clear()
    allowlist._trusted_extra.update(saved)


def test_the_trust_question_names_the_classes_and_functions(window, tmp_path, forget_trust):
    data = hostile.project(hostile.module("mymodels.nets:Net"))
    data["graph"]["nodes"].append({"id": "f", "type": "Function", "name": "f", "params": {
        "function": "mymodels.ops:gate"}})
    path = tmp_path / "wants.json"
    path.write_text(json.dumps(data))
    asked = []
    window.ask = lambda *a, **k: (asked.append(a[2]), QMessageBox.No)[1]
    assert not window.open_path(path)
    assert "mymodels.nets.Net, mymodels.ops.gate" in asked[0] and "mymodels" in asked[0]
    assert "mymodels" not in allowlist.trusted_packages()
