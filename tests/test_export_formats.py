"""Every shipped example exports to every format, and each export verifies itself."""
import subprocess
import sys

import pytest
import torch

from netbuilder.api import compile, example
from netbuilder.examples import names
from netbuilder.export import ExportError, export_project, probe_inputs, save_weights

FORMATS = {"torchscript": "model.pt", "onnx": "model.onnx", "pt2": "model.pt2",
           "safetensors": "model.safetensors", "python": "model_src"}


@pytest.mark.parametrize("name", names())
def test_every_example_exports_to_every_format_and_verifies(name, tmp_path):
    project = example(name)
    for fmt, filename in FORMATS.items():
        report = export_project(project, fmt, tmp_path / filename)
        assert report.path.exists(), fmt
        assert report.max_diff <= 1e-4, (fmt, report.max_diff)
        assert report.batch_sizes == (2, 3)
        assert "largest absolute difference" in report.summary()
    # nothing but the artefacts: no temporary files left behind
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(FORMATS.values())


def test_trained_weights_are_the_ones_exported(tmp_path):
    project = example("digits_cnn")
    trained = compile(project, seed=123).eval()
    save_weights(trained, tmp_path / "trained.safetensors")
    export_project(project, "torchscript", tmp_path / "m.pt",
                   weights=tmp_path / "trained.safetensors")
    loaded = torch.jit.load(str(tmp_path / "m.pt"))
    x = probe_inputs(project, 4)[0]
    with torch.no_grad():
        assert torch.allclose(loaded(x), trained(x), atol=1e-6)
        assert not torch.allclose(loaded(x), compile(project, seed=0).eval()(x), atol=1e-3)


def test_checkpoint_folder_is_accepted_as_weights(tmp_path):
    project = example("spirals_mlp")
    ckpt = tmp_path / "ckpt"
    ckpt.mkdir()
    save_weights(compile(project, seed=5), ckpt / "model.safetensors")
    (ckpt / "project.json").write_text(project.to_json())
    report = export_project(project, "pt2", tmp_path / "m.pt2", weights=ckpt)
    assert report.max_diff == 0.0


def test_weights_of_another_graph_are_refused_with_the_keys_named(tmp_path):
    save_weights(compile(example("digits_mlp")), tmp_path / "mlp.safetensors")
    with pytest.raises(ExportError, match="do not fit this project.*missing: conv2d"):
        export_project(example("digits_cnn"), "onnx", tmp_path / "m.onnx",
                       weights=tmp_path / "mlp.safetensors")
    assert not (tmp_path / "m.onnx").exists()


def test_pickled_weights_are_refused(tmp_path):
    torch.save(compile(example("digits_cnn")).state_dict(), tmp_path / "w.pt")
    with pytest.raises(ExportError, match="never unpickles"):
        export_project(example("digits_cnn"), "pt2", tmp_path / "m.pt2",
                       weights=tmp_path / "w.pt")


def test_onnx_file_has_a_dynamic_batch_axis_and_passes_the_checker(tmp_path):
    import onnx
    import onnxruntime as ort

    export_project(example("residual_cnn"), "onnx", tmp_path / "m.onnx")
    model = onnx.load(str(tmp_path / "m.onnx"))
    onnx.checker.check_model(model)
    dim0 = model.graph.input[0].type.tensor_type.shape.dim[0]
    assert dim0.dim_param and not dim0.dim_value  # symbolic, not a fixed number
    session = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    out = session.run(None, {"image": torch.randn(7, 1, 8, 8).numpy()})[0]
    assert out.shape == (7, 10)


def test_cli_export_prints_the_verification(tmp_path):
    out = subprocess.run([sys.executable, "-m", "netbuilder", "export", "digits_mlp",
                          "--format", "pt2", "-o", str(tmp_path / "m.pt2")],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "verified" in out.stdout and "largest absolute difference" in out.stdout
    assert (tmp_path / "m.pt2").exists()


def test_cli_torchscript_tells_the_user_it_is_deprecated(tmp_path):
    out = subprocess.run([sys.executable, "-m", "netbuilder", "export", "spirals_mlp",
                          "--format", "torchscript", "-o", str(tmp_path / "m.pt")],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "TorchScript is deprecated" in out.stdout and "pt2" in out.stdout
