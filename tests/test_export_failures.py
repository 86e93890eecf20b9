"""Export failures: a message that names the problem and what to do, and no file."""
import subprocess
import sys

import pytest

from netbuilder.api import Graph, Project, save_project
from netbuilder.export import ExportError, export_project


def svd_project() -> Project:
    """A graph with an op ONNX has no operator for (singular values)."""
    g = Graph()
    g.chain(g.add_node("Input", "matrix", {"shape": [4, 4]}),
            g.add_node("Function", "singular values",
                       {"function": "torch.linalg:svdvals"}),
            ("Linear", {"out_features": 2}), "Output")
    return Project(graph=g, name="svd")


def test_an_op_onnx_cannot_express_is_named_with_its_node_and_no_file_is_left(tmp_path):
    with pytest.raises(ExportError) as err:
        export_project(svd_project(), "onnx", tmp_path / "m.onnx")
    msg = str(err.value)
    assert "ONNX cannot express" in msg and "svd" in msg
    assert "'singular values'" in msg and "pt2" in msg
    assert list(tmp_path.iterdir()) == []


def test_the_same_graph_exports_to_pt2(tmp_path):
    report = export_project(svd_project(), "pt2", tmp_path / "m.pt2")
    assert report.max_diff < 1e-4


def test_cli_reports_onnx_failure_without_traceback(tmp_path):
    save_project(svd_project(), tmp_path / "svd.json")
    out = subprocess.run([sys.executable, "-m", "netbuilder", "export",
                          str(tmp_path / "svd.json"), "--format", "onnx", "-o",
                          str(tmp_path / "m.onnx")], capture_output=True, text=True)
    assert out.returncode == 1
    assert out.stderr.startswith("error: ONNX cannot express")
    assert "Traceback" not in out.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["svd.json"]


def test_an_existing_file_survives_a_failed_export(tmp_path):
    target = tmp_path / "m.onnx"
    target.write_bytes(b"previous export")
    with pytest.raises(ExportError):
        export_project(svd_project(), "onnx", target)
    assert target.read_bytes() == b"previous export"


def test_invalid_graph_is_refused_before_anything_is_written(tmp_path):
    g = Graph()
    g.chain(g.add_node("Input", "x", {"shape": [1, 8, 8]}), ("Linear", {"out_features": 3}),
            "Output")
    with pytest.raises(ExportError, match="Flatten"):
        export_project(Project(graph=g), "pt2", tmp_path / "m.pt2")
    assert list(tmp_path.iterdir()) == []


def test_unknown_format_and_bad_cli_input_exit_1(tmp_path):
    with pytest.raises(ExportError, match="unknown format"):
        export_project(svd_project(), "tflite", tmp_path / "m")
    out = subprocess.run([sys.executable, "-m", "netbuilder", "export", "digits_cnn",
                          "--format", "pt2", "-o", str(tmp_path / "m.pt2"), "--weights",
                          str(tmp_path / "missing.safetensors")], capture_output=True,
                         text=True)
    assert out.returncode == 1 and out.stderr.startswith("error: ")
    assert "missing.safetensors" in out.stderr and "Traceback" not in out.stderr
