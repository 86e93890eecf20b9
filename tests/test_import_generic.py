"""Generic nodes for what has no registry layer, and the trust rule for code they name."""
import subprocess
import sys

import pytest
import torch
import torch.nn as nn

from package_util import forget_package, write_package
from netbuilder.api import Graph, compile, example, save_project, validate
from netbuilder.core import allowlist
from netbuilder.core.project import ProjectError, load_project
from netbuilder.export import export_project, load_weights, save_weights
from netbuilder.importers import (ModelImportError, import_model, load_source, trust,
                                  untrusted_packages)

USER_MODULE = '''
import torch
import torch.nn as nn
import torch.nn.functional as F



class Net(nn.Module):
    def __init__(self, channels=4):
        super().__init__()
        self.conv = nn.Conv2d(3, channels, 3, padding=1)
        self.up = nn.Upsample(scale_factor=2.0, mode="nearest")
        self.shuffle = nn.PixelShuffle(2)
        self.proj = nn.Linear(channels // 4, 24)
        # no registry layer (extra key/value biases) and not rebuildable from attributes
        self.attn = nn.MultiheadAttention(8, 2, add_bias_kv=True, batch_first=True)
        self.head = nn.Linear(24, 5)

    def forward(self, x):
        y = F.leaky_relu(self.conv(x), 0.2)
        a, b = y.chunk(2, dim=1)
        y = torch.cat([a, b.flip(1)], dim=1)
        y = self.shuffle(self.up(y))
        y = y.mean(dim=(2, 3))
        seq = self.proj(y).view(y.shape[0], 3, 8)
        att = self.attn(seq, seq, seq)[0]
        return self.head(att.flatten(1)), torch.clamp(y, -1.0, 1.0)
'''


@pytest.fixture
def user_package(tmp_path, monkeypatch):
    write_package(tmp_path, monkeypatch, USER_MODULE)
    monkeypatch.chdir(tmp_path)
    saved = set(allowlist._trusted_extra)
    yield tmp_path
    allowlist._trusted_extra.clear()
    allowlist._trusted_extra.update(saved)
    forget_package("mymodels")


def test_user_model_with_unknown_parts_imports_exactly(user_package):
    source = load_source("mymodels.nets:Net", {"channels": 8})
    result = import_model(source.model, [[3, 8, 8]], factory=source.factory,
                          factory_kwargs=source.kwargs)
    assert result.max_diff <= 1e-6
    g = result.project.graph
    up = g.by_name("up")
    assert (up.type, up.params["target"], up.params["path"]) == ("Module", "torch.nn:Upsample",
                                                                 "")
    assert g.by_name("shuffle").params["target"] == "torch.nn:PixelShuffle"
    attn = g.by_name("attn")  # rebuilt through the factory that made the model
    assert (attn.params["target"], attn.params["path"]) == ("mymodels.nets:Net", "attn")
    assert attn.params["kwargs"] == '{"channels": 8}' and attn.params["item"] == 0
    assert g.by_name("view").type == "Reshape" and g.by_name("flatten").type == "Flatten"
    assert g.by_name("leaky_relu").type == "LeakyReLU"
    assert g.by_name("mean").type == "Mean"
    chunks = [n for n in g.nodes.values() if n.name.startswith("chunk")]
    assert sorted(n.params["item"] for n in chunks) == [0, 1]  # a tuple, one node per part
    assert len([n for n in g.nodes.values() if n.type == "Output"]) == 2
    assert set(result.generic) >= {"up", "shuffle", "attn", "flip"}


def test_project_naming_untrusted_code_is_refused_on_load_until_trusted(user_package):
    source = load_source("mymodels.nets:Net")
    result = import_model(source.model, [[3, 8, 8]], factory=source.factory)
    path = user_package / "net.json"
    save_project(result.project, path)
    save_weights(result.model, user_package / "net.safetensors")
    allowlist._trusted_extra.discard("mymodels")  # a new session: nothing trusted yet

    assert untrusted_packages(path) == ["mymodels"]
    with pytest.raises(ProjectError) as err:
        load_project(path)
    msg = str(err.value)
    assert "'attn'" in msg and "params.target" in msg
    assert "'mymodels'" in msg and "not trusted" in msg and "--trust mymodels" in msg

    trust("mymodels")
    project = load_project(path)
    model = compile(project).eval()
    load_weights(model, user_package / "net.safetensors")
    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        for got, want in zip(model(x), source.model.eval()(x)):
            torch.testing.assert_close(got, want, atol=1e-6, rtol=0)


def test_cli_trust_flag(user_package):
    source = load_source("mymodels.nets:Net")
    result = import_model(source.model, [[3, 8, 8]], factory=source.factory)
    save_project(result.project, user_package / "net.json")
    cmd = [sys.executable, "-m", "netbuilder", "export", "net.json", "--format", "pt2",
           "-o", "net.pt2"]
    refused = subprocess.run(cmd, capture_output=True, text=True, cwd=user_package)
    assert refused.returncode == 1 and "not trusted" in refused.stderr
    assert "Traceback" not in refused.stderr and not (user_package / "net.pt2").exists()
    ok = subprocess.run(cmd + ["--trust", "mymodels"], capture_output=True, text=True,
                        cwd=user_package, env={"PYTHONPATH": str(user_package),
                                               "PATH": "/usr/bin:/bin"})
    assert ok.returncode == 0, ok.stderr
    assert "verified" in ok.stdout


@pytest.mark.parametrize("node_type,param,name,why", [
    ("Function", "function", "os:system", "part of Python itself"),
    ("Function", "function", "builtins:eval", "part of Python itself"),
    ("Function", "function", "operator:attrgetter", "not an arithmetic operator"),
    ("Function", "function", "torch:__builtins__.eval", "private"),
    ("Module", "target", "torch.hub:load", "not an nn.Module class"),
    ("Function", "function", "torch:save", "not a tensor computation"),
])
def test_dangerous_names_are_refused_even_in_trusted_packages(node_type, param, name, why):
    g = Graph()
    g.chain(g.add_node("Input", "x", {"shape": [4]}),
            g.add_node(node_type, "evil", {param: name}), "Output")
    problems = [p for p in validate(g) if p.severity == "error"]
    assert problems and why in problems[0].message and "evil" in problems[0].message


def test_walking_out_of_a_trusted_package_is_refused():
    g = Graph()
    g.chain(g.add_node("Input", "x", {"shape": [4]}),
            g.add_node("Function", "sneaky", {"function": "torch:os.getcwd"}), "Output")
    messages = " ".join(p.message for p in validate(g))
    assert "torch:os.getcwd is refused: it is not a tensor computation" in messages


def test_import_of_a_shipped_example_round_trips(tmp_path):
    """compile -> import the GraphModule -> same node types and outputs."""
    for name in ("residual_cnn", "sine_lstm", "text_gru", "digits_cnn", "textbook_mlp"):
        project = example(name)
        gm = compile(project, seed=0).eval()
        inputs = [n for n in project.graph.nodes.values() if n.type == "Input"]
        result = import_model(gm, [n.params["shape"] for n in inputs],
                              input_dtypes=[n.params["dtype"] for n in inputs])
        assert result.max_diff <= 1e-6, name
        assert result.generic == [], name
        got = sorted(n.type for n in result.project.graph.nodes.values())
        assert got == sorted(n.type for n in project.graph.nodes.values()), name


def test_shared_weights_are_refused_with_the_submodule_named():
    class Shared(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 4)

        def forward(self, x):
            return self.fc(self.fc(x))

    with pytest.raises(ModelImportError, match="'fc'.*called 2 times"):
        import_model(Shared(), [[4]])


def test_untraceable_model_gets_a_clear_message():
    class Branchy(nn.Module):
        def forward(self, x):
            return x if x.sum() > 0 else -x

    with pytest.raises(ModelImportError, match="torch.fx cannot trace Branchy"):
        import_model(Branchy(), [[4]])


def test_cli_import_writes_project_and_weights(tmp_path):
    out = subprocess.run([sys.executable, "-m", "netbuilder", "import", "torchvision:resnet18",
                          "--input-shape", "3,32,32", "--kwargs", '{"num_classes": 7}', "-o",
                          str(tmp_path / "r18.json")], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "verified" in out.stdout
    project = load_project(tmp_path / "r18.json")
    assert project.graph.by_name("fc").params["out_features"] == 7
    report = export_project(project, "safetensors", tmp_path / "w.safetensors",
                            weights=tmp_path / "r18.safetensors")
    assert report.max_diff == 0.0


@pytest.mark.parametrize("args,message", [
    (["torchvision:resnet_nope"], "no classification model 'resnet_nope'"),
    (["nosuchpkg.mod:Net", "--input-shape", "3"], "cannot import 'nosuchpkg.mod'"),
    (["torchvision:resnet18", "--kwargs", "[1]"], "--kwargs must be a JSON object"),
    (["torchvision:resnet18", "--input-shape", "3,a"], "--input-shape '3,a'"),
    (["torchvision:resnet18", "--kwargs", '{"weights": "DEFAULT"}'], "nothing is downloaded"),
])
def test_cli_import_bad_input_exits_1_without_traceback(tmp_path, args, message):
    out = subprocess.run([sys.executable, "-m", "netbuilder", "import", *args, "-o",
                          str(tmp_path / "x.json")], capture_output=True, text=True)
    assert out.returncode == 1
    assert message in out.stderr and "Traceback" not in out.stderr
    assert list(tmp_path.iterdir()) == []
