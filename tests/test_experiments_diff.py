"""`netbuilder diff`: nodes, wires, parameters and training settings between two versions
(project files, examples, run folders), and `no differences` when there are none."""
from __future__ import annotations

import shutil

from netbuilder import examples
from netbuilder.cli import main
from netbuilder.core.diff import diff_projects
from netbuilder.core.project import save_project


def _pair(tmp_path, edit):
    old = examples.load("digits_mlp")
    new = examples.load("digits_mlp")
    edit(new)
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    save_project(old, a)
    save_project(new, b)
    return str(a), str(b)


def test_a_changed_width_is_a_changed_parameter(tmp_path, capsys):
    a, b = _pair(tmp_path, lambda p: p.graph.set_params("n3", {"out_features": 128}))
    assert main(["diff", a, b]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "~ node 'Linear' (n3): out_features: 64 → 128" in out
    assert not any(line.startswith(("+", "-")) for line in out)


def test_an_added_node_and_its_wires(tmp_path, capsys):
    def insert_dropout(p):
        g = p.graph
        edge = next(e for e in g.edges if e.src == "n4")  # ReLU -> Linear 1
        g.disconnect(edge)
        d = g.add_node("Dropout", params={"p": 0.3})
        g.connect("n4", d.id)
        g.connect(d.id, "n5")

    a, b = _pair(tmp_path, insert_dropout)
    assert main(["diff", a, b]) == 0
    out = capsys.readouterr().out.splitlines()
    assert any(line.startswith("+ node 'Dropout' (Dropout,") for line in out)
    assert "+ wire ReLU.out → Dropout.in" in out and "+ wire Dropout.out → Linear 1.in" in out
    assert "- wire ReLU.out → Linear 1.in" in out
    assert out[-1] == "1 node(s) added, 3 wire change(s)"


def test_a_changed_training_setting(tmp_path, capsys):
    a, b = _pair(tmp_path, lambda p: setattr(
        p, "training", p.training.model_copy(update={"lr": 0.01, "optimizer": "sgd"})))
    assert main(["diff", a, b]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "~ training lr: 0.003 → 0.01" in out and "~ training optimizer: adam → sgd" in out


def test_identical_projects_have_no_differences(tmp_path, capsys):
    a, b = _pair(tmp_path, lambda p: p.graph.move("n3", (999.0, 5.0)))  # layout only
    assert main(["diff", a, b]) == 0
    assert capsys.readouterr().out == "no differences\n"
    assert main(["diff", "digits_mlp", a]) == 0  # an example against a file
    assert capsys.readouterr().out == "no differences\n"


def test_a_run_folder_compares_by_its_project(tmp_path, capsys):
    run = tmp_path / "run"
    (run / "checkpoints" / ".last.v1").mkdir(parents=True)
    project = examples.load("digits_mlp")
    project.graph.remove_node("n4")
    save_project(project, run / "checkpoints" / ".last.v1" / "project.json")
    (run / "checkpoints" / "last").symlink_to(".last.v1")
    assert main(["diff", "digits_mlp", str(run)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "- node 'ReLU' (ReLU, n4)" in out
    shutil.rmtree(run / "checkpoints")
    assert main(["diff", "digits_mlp", str(run)]) == 1
    assert "without a project" in capsys.readouterr().err


def test_a_type_change_under_one_id_is_removed_and_added():
    old, new = examples.load("digits_mlp"), examples.load("digits_mlp")
    g = new.graph.to_dict()
    g["nodes"][3]["type"], g["nodes"][3]["params"] = "GELU", {}
    from netbuilder.core.graph import Graph

    new.graph = Graph.from_dict(g)
    d = diff_projects(old, new)
    assert [n.type for n in d.added] == ["GELU"] and [n.type for n in d.removed] == ["ReLU"]
    assert d.node_status("n4") == "added" and not d.changed


def test_bad_inputs_exit_1(tmp_path, capsys):
    assert main(["diff", "digits_mlp", str(tmp_path / "missing.json")]) == 1
    assert "no such file" in capsys.readouterr().err
    (tmp_path / "bad.json").write_text("{")
    assert main(["diff", str(tmp_path / "bad.json"), "digits_mlp"]) == 1
    assert "invalid JSON" in capsys.readouterr().err
