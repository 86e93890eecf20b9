"""The allowlist rule (core/allowlist.py) on its own: identity, not text; what --trust
means for a user package; the memory budget's words."""
import textwrap

import pytest

from package_util import forget_package, write_package
from netbuilder import examples
from netbuilder.core import allowlist, budget
from netbuilder.core.allowlist import FUNCTION, MODULE, code_problem
from netbuilder.importers.trust import untrusted_code, untrusted_packages

import hostile

USER = '''
import subprocess
from os import system

import torch
import torch.nn as nn
from torch import save as store



class Net(nn.Module):
    def forward(self, x):
        return x


def gate(x, scale=1.0):
    return x * scale


def make(width=4):
    return nn.Linear(width, width)


def save_to(x, path):
    torch.save(x, path)


def _private(x):
    return x
'''


@pytest.fixture
def user_package(tmp_path, monkeypatch):
    write_package(tmp_path, monkeypatch, USER)
    saved = set(allowlist._trusted_extra)
    allowlist.trust_packages("mymodels")
    yield
    allowlist._trusted_extra.clear()
    allowlist._trusted_extra.update(saved)
    forget_package("mymodels")


@pytest.mark.parametrize("name,kind", [
    ("mymodels.nets:Net", MODULE), ("mymodels.nets:make", MODULE),
    ("mymodels.nets:gate", FUNCTION)])
def test_trusting_a_package_allows_its_own_classes_and_functions(user_package, name, kind):
    assert code_problem(name, kind) is None


@pytest.mark.parametrize("name,kind,why", [
    ("mymodels.nets:system", FUNCTION, "not a tensor computation"),  # os.system re-exported
    ("mymodels.nets:subprocess.run", FUNCTION, "not a tensor computation"),
    ("mymodels.nets:store", FUNCTION, "not a tensor computation"),  # torch.save re-exported
    ("mymodels.nets:torch.save", FUNCTION, "not a tensor computation"),
    ("mymodels.nets:save_to", FUNCTION, "not a tensor computation"),  # takes a path
    ("mymodels.nets:_private", FUNCTION, "private part"),
    ("mymodels.nets:Net", FUNCTION, "not a tensor computation"),  # a class is no function
    ("mymodels.nets:system", MODULE, "not an nn.Module class"),
])
def test_trust_is_the_same_rule_never_run_anything(user_package, name, kind, why):
    msg = code_problem(name, kind)
    assert msg and why in msg, msg


def test_aliases_are_judged_by_the_object_they_name():
    # re-exports of an allowed object pass (same object), a path to another object fails
    assert code_problem("torch.functional:stft", FUNCTION) is None
    assert code_problem("torch:stft", FUNCTION) is None
    assert "not a tensor computation" in code_problem("torch.nn.functional:torch.save",
                                                     FUNCTION)
    assert "not an nn.Module class" in code_problem("torch.nn:functional.relu", MODULE)


def test_looking_a_name_up_runs_no_module_getattr_hook():
    """torch's module __getattr__ calls a function for deprecated names (and imports lazy
    submodules); the lookup reads attributes statically, so naming one runs neither."""
    import warnings

    import torch

    deprecated = sorted(getattr(torch, "_deprecated_attrs", {}))
    if not deprecated:
        pytest.skip("this torch has no deprecated module attributes")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the hook warns before it calls the replacement
        msg = code_problem(f"torch:{deprecated[0]}", FUNCTION)
    assert msg and "has no attribute" in msg


def test_the_editor_is_asked_only_about_packages_that_could_be_trusted(tmp_path):
    data = hostile.project(hostile.module("mymodels.nets:Net"))
    data["graph"]["nodes"].append({"id": "os", "type": "Function", "name": "os",
                                   "params": {"function": "os:system"}})
    assert untrusted_code(data) == ["mymodels.nets:Net"]
    assert untrusted_packages(data) == ["mymodels"]


def test_budget_words():
    assert budget.human_bytes(4 * 10**12) == "3.6 TiB"
    assert budget.human_bytes(23 * 2**30) == "23 GiB"
    assert budget.human_bytes(512) == "512 bytes"
    graph = examples.load("digits_cnn").graph
    assert budget.memory_problem(graph, batch=64) is None
    msg = budget.memory_problem(graph, batch=64, available=1000)
    assert msg.startswith("needs ") and msg.count("this machine has 1000 bytes") == 1


@pytest.fixture
def fresh_trust():
    saved = set(allowlist._trusted_extra)
    allowlist._trusted_extra.discard("mymodels")
    yield
    allowlist._trusted_extra.clear()
    allowlist._trusted_extra.update(saved)


@pytest.mark.parametrize("command", ["validate", "summary", "train", "export"])
def test_the_trust_flag_works_on_every_command(tmp_path, monkeypatch, capsys, fresh_trust,
                                               command):
    import json

    from netbuilder.cli import main

    pkg = tmp_path / "mymodels"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "nets.py").write_text(textwrap.dedent(USER))
    monkeypatch.syspath_prepend(str(tmp_path))
    data = hostile.project(hostile.module("mymodels.nets:make", {"width": 2}),
                           inputs=({"shape": [2]},))
    path = tmp_path / "p.json"
    path.write_text(json.dumps(data))
    extra = {"train": ["--out", str(tmp_path / "runs"), "--epochs", "1"],
             "export": ["--format", "safetensors", "-o", str(tmp_path / "w.safetensors")]
             }.get(command, [])
    assert main([command, str(path), *extra]) == 1
    assert "--trust mymodels" in capsys.readouterr().err
    assert main([command, str(path), *extra, "--trust", "mymodels"]) == 0, \
        capsys.readouterr().err
