import json
import os

import pytest

from netbuilder.core import project as project_mod
from netbuilder.core.graph import Graph
from netbuilder.core.project import (Project, ProjectError, TrainingSettings, load_project,
                                     save_project)
from netbuilder import examples


def test_save_then_load_is_identical(tmp_path):
    p = examples.load("residual_cnn")
    p.training = TrainingSettings(loss="cross_entropy", lr=0.02, epochs=3)
    path = tmp_path / "net.json"
    save_project(p, path)
    q = load_project(path)
    assert q.graph.signature() == p.graph.signature()
    assert q.training == p.training and q.dataset == p.dataset and q.name == p.name
    data = json.loads(path.read_text())
    assert data["format"] == "netbuilder-project" and data["version"] == project_mod.VERSION


def test_save_is_atomic_when_the_write_fails(tmp_path, monkeypatch):
    path = tmp_path / "net.json"
    save_project(examples.load("spirals_mlp"), path)
    before = path.read_bytes()

    def crash(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(project_mod.os, "replace", crash)
    with pytest.raises(OSError):
        save_project(examples.load("digits_cnn"), path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["net.json"]  # no temporary file left behind


def test_out_of_range_values_load_so_the_editor_can_fix_them(tmp_path):
    data = json.loads(examples.text("spirals_mlp"))
    data["graph"]["nodes"][1]["params"]["out_features"] = -4
    path = tmp_path / "p.json"
    path.write_text(json.dumps(data))
    p = load_project(path)  # loads; validation reports the bad value
    from netbuilder.api import validate
    assert any(pr.param == "out_features" for pr in validate(p))


def test_messages_name_the_field_and_node(tmp_path):
    data = json.loads(examples.text("digits_cnn"))
    data["graph"]["nodes"][1]["params"]["kernel_size"] = "3"
    path = tmp_path / "p.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ProjectError) as e:
        load_project(path)
    msg = str(e.value)
    assert "graph.nodes[1]" in msg and "'n2'" in msg and "kernel_size" in msg
    assert "whole number" in msg


def test_empty_project_round_trips(tmp_path):
    save_project(Project(graph=Graph(), name="blank"), tmp_path / "b.json")
    assert load_project(tmp_path / "b.json").graph.nodes == {}
