"""Blocks beyond the core: model.py with a class per definition that loads the compiled
weights strictly, carry-over inside blocks on resume, and the block examples training."""
import pytest
import torch

from netbuilder.api import compile, example
from netbuilder.cli import main
from netbuilder.core.project import parse_project
from netbuilder.export import export_project, probe_inputs, save_weights
from netbuilder.export.pysource import load_generated
from netbuilder.training.carryover import carry_over


def test_model_py_has_a_class_per_block_and_loads_trained_weights(tmp_path):
    project = example("small_resnet")
    trained = compile(project, seed=7).eval()
    save_weights(trained, tmp_path / "w.safetensors")
    export_project(project, "python", tmp_path / "src", weights=tmp_path / "w.safetensors")
    src = (tmp_path / "src" / "model.py").read_text()
    assert "class BasicBlock(nn.Module):" in src and "class BasicBlockDown(nn.Module):" in src
    assert "class SmallResNet(nn.Module):" in src
    assert "self.layer1 = nn.Sequential(*[BasicBlock() for _ in range(2)])" in src
    assert "self.layer2 = BasicBlockDown()" in src
    assert "add = bn2 + in_  # N×16×8×8" in src  # the skip connection, with its shape
    assert " = None" not in src  # no fx temporaries
    loaded = load_generated(tmp_path / "src", "SmallResNet")
    fresh = type(loaded)()
    fresh.load_state_dict(trained.state_dict(), strict=True)
    assert list(fresh.state_dict()) == list(trained.state_dict())
    x = probe_inputs(project, 4)[0]
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), trained(x))
        torch.testing.assert_close(fresh.eval()(x), trained(x))


def test_a_definition_used_with_different_sizes_still_exports(tmp_path):
    project = example("small_densenet")
    report = export_project(project, "python", tmp_path / "src")
    assert report.max_diff <= 1e-5
    src = (tmp_path / "src" / "model.py").read_text()
    assert "class DenseLayer(nn.Module):" in src and "class DenseBlock(nn.Module):" in src
    assert "class Transition(nn.Module):" in src and " = None" not in src
    # one class for the definition, its input size as the constructor argument
    assert "DenseLayer2" not in src and "DenseBlock2" not in src
    assert "def __init__(self, in_channels):" in src
    assert "nn.Sequential(*[DenseLayer(in_channels + 8 * i) for i in range(3)])" in src
    assert "self.denseblock1 = DenseBlock(16)" in src and "self.denseblock2 = DenseBlock(24)" in src
    loaded = load_generated(tmp_path / "src", "SmallDenseNet")
    trained = compile(project, seed=3).eval()
    loaded.load_state_dict(trained.state_dict(), strict=True)
    x = probe_inputs(project, 3)[0]
    with torch.no_grad():
        torch.testing.assert_close(loaded.eval()(x), trained(x))


def test_resume_keeps_weights_inside_unchanged_blocks():
    old_project = example("small_resnet")
    old = compile(old_project, seed=1)
    new_project = parse_project(old_project.to_json())
    down = new_project.graph.blocks["Basic Block Down"]
    down.set_param(down.by_name("bn2").id, "eps", 1e-3)  # one layer inside layer2 changes
    new = compile(new_project, seed=2)
    opt_old = torch.optim.Adam(old.parameters())
    old(torch.randn(4, 1, 8, 8)).sum().backward()
    opt_old.step()
    opt_new = torch.optim.Adam(new.parameters())
    report = carry_over(old, old_project.graph, new, new_project.graph, opt_old, opt_new)
    g = new_project.graph
    layer1, layer2 = g.by_name("layer1").id, g.by_name("layer2").id
    bn2 = down.by_name("bn2").id
    assert report.reinitialised == (f"{layer2}/0/{bn2}",)
    assert report.reasons[f"{layer2}/0/{bn2}"] == "parameters changed"
    assert f"{layer2}/0/{down.by_name('conv1').id}" in report.kept
    assert sum(p.startswith(f"{layer1}/") for p in report.kept) == 2 * 4  # 2 convs + 2 BNs
    for key in ("layer1.0.conv1.weight", "layer1.1.bn2.running_mean", "layer2.conv1.weight"):
        assert torch.equal(new.state_dict()[key], old.state_dict()[key]), key
    assert new.get_submodule("layer2.bn2").weight not in opt_new.state  # starts fresh
    p_new = new.get_submodule("layer1.0.conv1").weight
    p_old = old.get_submodule("layer1.0.conv1").weight
    assert torch.equal(opt_new.state[p_new]["exp_avg"], opt_old.state[p_old]["exp_avg"])


@pytest.mark.parametrize("name", ["small_resnet", "small_densenet", "small_transformer"])
def test_block_examples_train(name, tmp_path, capsys):
    assert main(["train", name, "--epochs", "1", "--out", str(tmp_path / "run"),
                 "--device", "cpu"]) == 0
    assert "test: loss" in capsys.readouterr().out
    assert (tmp_path / "run" / "checkpoints" / "last" / "model.safetensors").is_file()
