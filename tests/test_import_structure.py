"""Imports keep the original's module hierarchy: child modules become block instances,
identical children share a definition, names follow the original so its state_dict loads
strictly into the compiled module and into the exported model.py."""
import importlib.util
import re
import subprocess
import sys

import pytest
import torch
import torch.nn as nn
import torchvision

from netbuilder.api import compile, validate
from netbuilder.core.compiler import class_name_for, layer_places
from netbuilder.core.project import load_project, parse_project
from netbuilder.export import export_project, load_weights, save_weights
from netbuilder.importers import import_model, load_source


def cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "netbuilder", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=600)


def summary_rows(out: str) -> list[str]:
    lines = out.splitlines()
    rules = [i for i, line in enumerate(lines) if set(line.replace(" ", "")) == {"-"}]
    return lines[rules[0] + 1:rules[1]]


def test_resnet50_summary_code_and_strict_state_dict(tmp_path):
    r = cli("import", "torchvision:resnet50", "--input-shape", "3,64,64", "-o",
            str(tmp_path / "r50.json"), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    top = cli("summary", str(tmp_path / "r50.json"), cwd=tmp_path)
    assert top.returncode == 0, top.stderr
    rows = summary_rows(top.stdout)
    assert len(rows) <= 20
    assert [row.split()[0] for row in rows][5:9] == ["layer1", "layer2", "layer3", "layer4"]
    assert "parameters: 25557032" in top.stdout
    every = cli("summary", str(tmp_path / "r50.json"), "--depth", "all", cwd=tmp_path)
    assert "parameters: 25557032" in every.stdout
    project = load_project(tmp_path / "r50.json")
    model = compile(project)
    # every layer: the 177 nodes of a flat import (input, output, adds and relus included)
    assert len(summary_rows(every.stdout)) == 177
    convs = [q for node, q in layer_places(model, project.graph).values()
             if node.type == "Conv2d"]
    assert len(convs) == 53 and "layer4.2.conv3" in convs
    assert "layer1 › 0 › conv1" in every.stdout

    # model.py: a class per block definition; the original's state_dict loads strictly
    report = export_project(project, "python", tmp_path / "src",
                            weights=tmp_path / "r50.safetensors", batch_sizes=(1, 2))
    assert report.max_diff <= 1e-4
    source = (tmp_path / "src" / "model.py").read_text()
    classes = set(re.findall(r"^class (\w+)\(nn\.Module\)", source, re.M))
    assert {class_name_for(d) for d in project.graph.blocks.names()} <= classes
    assert "x = None" not in source
    spec = importlib.util.spec_from_file_location("exported_r50", tmp_path / "src" / "model.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    exported = mod.build(weights=None)
    original = torchvision.models.resnet50().eval()
    exported.load_state_dict(original.state_dict(), strict=True)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(exported(x), original(x), atol=1e-4, rtol=0)


def test_identical_children_share_a_definition_and_sequentials_repeat():
    result = import_model(torchvision.models.resnet18(), [[3, 32, 32]],
                          factory="torchvision.models:resnet18")
    g = result.project.graph
    layer1 = g.by_name("layer1")
    assert layer1.type == "Block" and layer1.params["repeat"] == 2  # two identical blocks
    assert g.blocks[layer1.params["block"]].by_name("conv1").type == "Conv2d"
    layer2 = g.blocks[g.by_name("layer2").params["block"]]
    first, second = layer2.by_name("0"), layer2.by_name("1")
    assert first.params["block"] != second.params["block"]  # only the first downsamples
    assert g.blocks[first.params["block"]].by_name("downsample").type == "Block"
    # strict: every key is the original's
    keys = set(torchvision.models.resnet18().state_dict())
    assert set(result.model.state_dict()) == keys


class Scaled(nn.Module):
    """Uses its own weight directly: no netbuilder layer expresses it."""

    def __init__(self, c=4):
        super().__init__()
        self.scale = nn.Parameter(torch.randn(c, 1, 1))

    def forward(self, x):
        return x * self.scale


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU())
        self.a, self.b = Scaled(), Scaled()
        self.head = nn.Linear(4, 2)

    def forward(self, x):
        x = self.b(self.a(self.stem(x)))
        return self.head(x.mean(dim=(2, 3)))


def test_a_submodule_netbuilder_cannot_express_is_kept_whole():
    from netbuilder.importers import trust
    from netbuilder.core import allowlist

    saved = set(allowlist._trusted_extra)
    trust(__name__.split(".")[0])
    try:
        model = Net()
        result = import_model(model, [[3, 8, 8]], factory=f"{__name__}:Net")
        g = result.project.graph
        assert g.by_name("a").type == "Module" and g.by_name("b").type == "Module"
        assert g.by_name("a").params["path"] == "a"
        assert g.by_name("stem").type == "Block"
        assert result.max_diff <= 1e-6
        assert set(result.model.state_dict()) == set(model.state_dict())
    finally:
        allowlist._trusted_extra.clear()
        allowlist._trusted_extra.update(saved)


def small_vit():
    return torchvision.models.VisionTransformer(image_size=32, patch_size=8, num_layers=3,
                                                num_heads=2, hidden_dim=32, mlp_dim=64,
                                                num_classes=10)


# A representative set (densenet121, convnext_tiny and swin_t were refused before blocks).
# Small inputs keep it quick on 2 cores; scripts/import_zoo.py runs the whole list.
ZOO = [("resnet18", [3, 32, 32]), ("densenet121", [3, 32, 32]),
       ("convnext_tiny", [3, 32, 32]), ("swin_t", [3, 32, 32]),
       ("mobilenet_v3_small", [3, 32, 32]), ("small_vit", [3, 32, 32])]


@pytest.mark.parametrize("name,shape", ZOO, ids=[z[0] for z in ZOO])
def test_zoo_imports_compiles_equal_and_exports_verified_onnx(name, shape, tmp_path):
    if name == "small_vit":
        original, factory = small_vit(), None
    else:
        source = load_source(f"torchvision:{name}")
        original, factory = source.model, source.factory
    torch.manual_seed(0)
    with torch.no_grad():  # zero-initialised heads would hide wiring mistakes
        for p in original.parameters():
            p.add_(torch.randn_like(p) * 0.02)
    original.eval()
    result = import_model(original, [shape], factory=factory, name=name)
    assert result.project.graph.blocks.names(), "no block definitions"
    project = parse_project(result.project.to_json(), name)
    assert [p for p in validate(project) if p.severity == "error"] == []
    save_weights(result.model, tmp_path / "w.safetensors")
    model = compile(project).eval()
    load_weights(model, tmp_path / "w.safetensors")
    x = torch.randn(2, *shape)
    with torch.no_grad():
        torch.testing.assert_close(model(x), original(x), atol=1e-4, rtol=0)
    report = export_project(project, "onnx", tmp_path / "m.onnx",
                            weights=tmp_path / "w.safetensors", batch_sizes=(1, 2))
    assert report.max_diff <= 1e-3


def test_vit_state_dict_loads_strictly_with_no_remap(tmp_path):
    """A ViT's class token and position embedding keep their names: `class_token`, not
    `class_token.value`, in the compiled module and in model.py (an nn.Parameter there)."""
    original = small_vit().eval()
    with torch.no_grad():
        for p in original.parameters():
            p.add_(torch.randn_like(p) * 0.02)
    result = import_model(original, [[3, 32, 32]], name="vit")
    project = parse_project(result.project.to_json(), "vit")
    model = compile(project).eval()
    assert set(model.state_dict()) == set(original.state_dict())
    model.load_state_dict(original.state_dict(), strict=True)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(model(x), original(x), atol=1e-5, rtol=0)
    # a weights file written before (learned tensors as NAME.value) still loads strictly
    old_style = {("class_token.value" if k == "class_token" else k): v
                 for k, v in original.state_dict().items()}
    compile(project).load_state_dict(old_style, strict=True)

    save_weights(model, tmp_path / "vit.safetensors")
    export_project(project, "python", tmp_path / "src", weights=tmp_path / "vit.safetensors",
                   batch_sizes=(1, 2))
    source = (tmp_path / "src" / "model.py").read_text()
    assert "self.class_token = nn.Parameter(torch.zeros([1, 1, 32]))" in source
    assert "LearnedTensor" not in source
    spec = importlib.util.spec_from_file_location("exported_vit", tmp_path / "src" / "model.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    exported = mod.build(weights=None).eval()
    exported.load_state_dict(original.state_dict(), strict=True)
    with torch.no_grad():
        torch.testing.assert_close(exported(x), original(x), atol=1e-5, rtol=0)


class Capitalised(nn.Module):
    """Attribute names as torchvision's Inception writes them (Conv2d_1a_3x3, Mixed_5b)."""

    def __init__(self):
        super().__init__()
        self.Conv2d_1a_3x3 = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU())
        self.Mixed_5b = nn.Conv2d(4, 4, 1)
        self.trunk = nn.Sequential()  # as RegNet names its stages' blocks
        self.trunk.add_module("block1-0", nn.Sequential(nn.Conv2d(4, 4, 1), nn.ReLU()))
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        return self.fc(self.trunk(self.Mixed_5b(self.Conv2d_1a_3x3(x))).mean(dim=(2, 3)))


def test_names_a_model_gave_keep_their_spelling(tmp_path):
    original = Capitalised().eval()
    result = import_model(original, [[3, 8, 8]], name="caps")
    project = parse_project(result.project.to_json(), "caps")
    model = compile(project).eval()
    assert set(model.state_dict()) == set(original.state_dict())
    model.load_state_dict(original.state_dict(), strict=True)
    save_weights(model, tmp_path / "w.safetensors")
    export_project(project, "python", tmp_path / "src", weights=tmp_path / "w.safetensors",
                   batch_sizes=(1, 2))
    spec = importlib.util.spec_from_file_location("exported_caps", tmp_path / "src" / "model.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    mod.build(weights=None).load_state_dict(original.state_dict(), strict=True)
    # a layer's default name still becomes a lower-case attribute
    assert "linear.weight" in compile(default_named_graph()).state_dict()


def default_named_graph():
    from netbuilder.core.graph import Graph

    g = Graph()
    g.chain(g.add_node("Input", "x", {"shape": [3]}), ("Linear", {"out_features": 2}),
            "Output")
    return g


class Unit(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin, self.norm = nn.Linear(8, 8), nn.LayerNorm(8)

    def forward(self, x):
        return x + self.norm(torch.relu(self.lin(x)))


class LoopedList(nn.Module):
    """Loops over a ModuleList it never calls (MaxViT's blocks, many transformers)."""

    def __init__(self):
        super().__init__()
        self.blocks = nn.ModuleList([Unit() for _ in range(3)])
        self.head = nn.Linear(8, 2)

    def forward(self, x):
        for block in self.blocks:
            x = block(x)
        return self.head(x)


def test_a_looped_module_list_becomes_a_repeated_block():
    original = LoopedList().eval()
    result = import_model(original, [[8]], name="looped")
    blocks = result.project.graph.by_name("blocks")
    assert blocks.type == "Block" and blocks.params == {"block": "Unit", "repeat": 3}
    model = compile(parse_project(result.project.to_json(), "looped")).eval()
    model.load_state_dict(original.state_dict(), strict=True)
    x = torch.randn(2, 8)
    with torch.no_grad():
        torch.testing.assert_close(model(x), original(x), atol=1e-6, rtol=0)
