"""The import check can fail: a model whose output changes between calls (state in Python
attributes, random operations) is refused naming the cause and the place; a graph that
computes something else is refused naming the first node that differs; a deterministic
model imports and is verified, and only then does the CLI print "verified"."""
import os
import subprocess
import sys
import textwrap

import pytest
import torch
import torch.nn as nn

from netbuilder.importers import ModelImportError, import_model
from netbuilder.importers import fx_import

MODELS = '''
import torch
import torch.nn as nn


class Counting(nn.Module):
    """Scales by how often it was called: state in a Python attribute."""
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(4, 3)
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        return self.lin(x) * self.calls


class Noisy(nn.Module):
    """Adds fresh noise on every call, in eval mode too."""
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(4, 3)

    def forward(self, x):
        y = self.lin(x)
        return y + torch.rand_like(y)


class NoisyInTraining(Noisy):
    """The same noise, only while training: deterministic in eval mode."""
    def forward(self, x):
        y = self.lin(x)
        return y + torch.rand_like(y) if self.training else y


class Plain(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(4, 8)
        self.out = nn.Linear(8, 3)

    def forward(self, x):
        return self.out(torch.relu(self.lin(x)))
'''


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    d = tmp_path_factory.mktemp("models")
    (d / "fault_models.py").write_text(textwrap.dedent(MODELS))
    sys.path.insert(0, str(d))
    import fault_models

    yield d, fault_models
    sys.path.remove(str(d))


def _cli(models_dir, tmp_path, name):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(models_dir), env.get("PYTHONPATH", "")])
    return subprocess.run([sys.executable, "-m", "netbuilder", "import",
                           f"fault_models:{name}", "-o", str(tmp_path / f"{name}.json"),
                           "--input-shape", "4"], env=env, capture_output=True, text=True,
                          timeout=300)


def test_a_model_with_state_in_python_attributes_is_refused(models, tmp_path):
    d, m = models
    with pytest.raises(ModelImportError, match="Counting cannot be verified: its output "
                                               "changes between two calls with the same "
                                               "input .* because the model \\(Counting\\) "
                                               "keeps state in the Python attribute 'calls'"):
        import_model(m.Counting(), [[4]])
    r = _cli(d, tmp_path, "Counting")
    assert r.returncode == 1 and "keeps state in the Python attribute 'calls'" in r.stderr
    assert "verified" not in r.stdout and os.listdir(tmp_path) == []


def test_a_model_with_random_noise_is_refused_naming_the_operation(models, tmp_path):
    d, m = models
    with pytest.raises(ModelImportError, match="because it uses random operations at "
                                               "call_function 'rand_like'"):
        import_model(m.Noisy(), [[4]])
    r = _cli(d, tmp_path, "Noisy")
    assert r.returncode == 1 and "random operations" in r.stderr
    assert "verified" not in r.stdout and "Traceback" not in r.stderr
    assert os.listdir(tmp_path) == []


def test_deterministic_models_import_and_are_verified(models, tmp_path):
    d, m = models
    for cls in (m.Plain, m.NoisyInTraining):
        original = cls()
        result = import_model(original, [[4]])
        assert result.max_diff <= 1e-6
        x = torch.randn(5, 4)
        with torch.no_grad():
            assert torch.allclose(result.model(x), original.eval()(x), atol=1e-6)
    r = _cli(d, tmp_path, "Plain")
    assert r.returncode == 0, r.stderr
    assert "verified: the imported graph matches the original model" in r.stdout


def test_an_import_that_computes_something_else_names_the_first_node(models, monkeypatch):
    d, m = models
    real = fx_import.copy_weights

    def off_by_one(compiled, graph, model):  # the fault: one layer's bias copied wrong
        real(compiled, graph, model)
        sub = compiled.get_submodule("out")
        with torch.no_grad():
            sub.bias += 1.0

    monkeypatch.setattr(fx_import, "copy_weights", off_by_one)
    with pytest.raises(ModelImportError, match="the imported graph does not compute what "
                                               "Plain computes: the outputs differ by 1 "
                                               ".*the first node whose outputs differ is "
                                               "'out'"):
        import_model(m.Plain(), [[4]])


def test_the_tolerance_scales_with_the_outputs():
    from netbuilder.importers.verify import tolerance

    assert tolerance(torch.tensor([0.5, -0.2])) == pytest.approx(1e-4)  # at least 1e-4
    assert tolerance((torch.tensor([3.0]), torch.tensor([-2e6]))) == pytest.approx(200.0)
