"""One answer to "can this train": validate, the training check and the Problems list agree."""
import subprocess
import sys

import pytest

from netbuilder.api import DatasetChoice, ERROR, example, save_project, validate
from netbuilder.core.shapes import ShapeInference
from netbuilder.examples import names
from netbuilder.training import Trainer, TrainingConfigError
from netbuilder.training.compat import (dataset_info, dataset_problems, merge,
                                        project_problems)

from training_util import project

FIX = "in Linear 'Linear 2' set out_features to 2"


def wide_spirals():
    p = example("spirals_mlp")
    p.graph.set_params("n6", {"out_features": 32})
    return p


def test_validate_cli_refuses_a_32_wide_output_naming_the_fix(tmp_path):
    path = tmp_path / "wide.json"
    save_project(wide_spirals(), path)
    r = subprocess.run([sys.executable, "-m", "netbuilder", "validate", str(path)],
                       capture_output=True, text=True)
    assert r.returncode == 1, r.stdout + r.stderr
    assert ("error: dataset 'spirals' has 2 classes but the output is N×32; CrossEntropyLoss "
            f"needs one score per class: {FIX} [node n6]") in r.stdout
    assert "invalid (1 error(s)" in r.stderr and "Traceback" not in r.stderr


def test_the_training_check_refuses_with_the_same_words():
    p = wide_spirals()
    problems = dataset_problems(p)
    assert [(q.severity, q.node_id, q.param) for q in problems] == [(ERROR, "n6",
                                                                     "out_features")]
    with pytest.raises(TrainingConfigError) as e:
        Trainer(p).prepare()
    assert problems[0].message in str(e.value)
    assert [q.message for q in validate(p) if q.severity == ERROR] == [problems[0].message]


@pytest.mark.parametrize("name", names())
def test_every_example_fits_its_dataset(name):
    assert dataset_problems(example(name)) == []


def test_problems_point_at_the_node_and_parameter_to_change():
    p = project([("Linear", {"out_features": 8}), "ReLU", ("Linear", {"out_features": 3}),
                 "Softmax"], [5], "spirals")
    got = {(q.code, q.param): q for q in dataset_problems(p)}
    ids = {n.type + ("" if n.type != "Linear" else str(n.params["out_features"])): n.id
           for n in p.graph.nodes.values()}
    assert got[("data-input-shape", "shape")].node_id == ids["Input"]
    assert "set the Input shape to [2]" in got[("data-input-shape", "shape")].message
    assert got[("data-output-width", "out_features")].node_id == ids["Linear3"]
    assert got[("squash-before-logit-loss", None)].node_id == ids["Softmax"]


def test_a_dataset_error_replaces_the_gentler_graph_warning():
    p = project([("Linear", {"out_features": 8}), "ReLU", ("Linear", {"out_features": 2}),
                 "Softmax"], [2], "spirals")
    merged = project_problems(p)
    softmax = [q for q in merged if q.code == "squash-before-logit-loss"]
    assert [q.severity for q in softmax] == [ERROR]
    assert merged[0].severity == ERROR
    # without a dataset the graph lint still warns
    p.dataset = None
    assert [q.severity for q in project_problems(p)
            if q.code == "squash-before-logit-loss"] == ["warning"]


def test_merge_keeps_unrelated_warnings():
    p = wide_spirals()
    p.graph.add_node("ReLU", "spare")  # unconnected: an error and an "unused" warning
    analysis, data = validate(p.graph), dataset_problems(p)
    merged = merge(analysis, data)
    assert {q.code for q in analysis} == {"unconnected", "unused"}
    assert sorted(map(str, merged)) == sorted(map(str, analysis + data))
    assert [q.severity for q in merged] == [ERROR, ERROR, "warning"]


def test_unknown_dataset_and_no_dataset():
    p = example("spirals_mlp")
    p.dataset = DatasetChoice(name="spirels")
    (q,) = dataset_problems(p)
    assert q.severity == ERROR and "unknown dataset 'spirels'" in q.message
    p.dataset = None
    assert dataset_problems(p) == []


def test_reuses_the_callers_shape_inference():
    p = wide_spirals()
    si = ShapeInference(p.graph)
    try:
        si.update()
        evaluated = si.recomputed
        assert dataset_problems(p, inference=si)[0].node_id == "n6"
        assert evaluated > 0 and not si.dirty
    finally:
        si.close()


def test_a_csv_is_read_once_and_read_again_when_it_changes(tmp_path):
    csv = tmp_path / "d.csv"
    csv.write_text("a,b,label\n" + "".join(f"{i},{i % 3},{i % 3}\n" for i in range(30)))
    choice = DatasetChoice(name="csv", options={"path": str(csv)})
    assert dataset_info(choice, load=False) is None  # not known without reading it
    assert dataset_info(choice).num_classes == 3
    assert dataset_info(choice, load=False).num_classes == 3  # cached
    p = project([("Linear", {"out_features": 8}), "ReLU", ("Linear", {"out_features": 3})],
                [2], "csv", options={"path": str(csv)})
    assert dataset_problems(p, load=False) == []
    csv.write_text("a,b,label\n" + "".join(f"{i},{i % 4},{i % 4}\n" for i in range(40)))
    assert dataset_problems(p, load=False) == []  # changed on disk: unknown until read
    (q,) = dataset_problems(p)
    assert "has 4 classes" in q.message and "set out_features to 4" in q.message


def test_builtin_datasets_are_not_loaded_to_check_them():
    code = ("import sys; from netbuilder.api import example;"
            "from netbuilder.training.compat import dataset_problems;"
            "assert dataset_problems(example('digits_mlp')) == [];"
            "print(sorted(m for m in sys.modules if m.startswith('sklearn') or "
            "m == 'netbuilder.data.prepare'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


def test_validate_without_a_dataset_checks_only_the_graph(tmp_path):
    p = wide_spirals()
    p.dataset = None
    path = tmp_path / "nodata.json"
    save_project(p, path)
    r = subprocess.run([sys.executable, "-m", "netbuilder", "validate", str(path)],
                       capture_output=True, text=True)
    assert r.returncode == 0 and ": valid (7 nodes" in r.stdout, r.stdout + r.stderr


def test_two_inputs_are_refused_once_and_a_missing_output_is_left_to_the_graph_check():
    p = example("spirals_mlp")
    p.graph.add_node("Input", "extra", {"shape": [2]})
    (q,) = dataset_problems(p)
    assert q.code == "io-count" and "has 2 and 1" in q.message
    p = example("spirals_mlp")
    p.graph.remove_node("n7")
    assert dataset_problems(p) == []
    assert any(q.code == "no-output" for q in validate(p))
