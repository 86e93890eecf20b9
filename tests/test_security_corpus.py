"""Hostile project files (tests/hostile.py) are refused by every command that reads a
project and by the editor's open path; nothing they name runs, nothing on disk changes.

Most commands run in-process (`netbuilder.cli.main`, the same code as the command line,
fast); a few run as real subprocesses to show the exit code and the absence of a
traceback end to end."""
import hashlib
import json
import re
import subprocess
import sys

import pytest

from netbuilder.cli import main
from netbuilder.core import budget

import hostile

CORPUS_NAMES = sorted(hostile.corpus("M"))
COMMANDS = ("validate", "summary", "train", "export")


def snapshot(folder):
    return {p.relative_to(folder): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def write_corpus(folder):
    marker = folder / hostile.MARKER
    files = {}
    for name, (data, why) in hostile.corpus(str(marker)).items():
        path = folder / f"{name}.json"
        path.write_text(json.dumps(data, indent=1))
        files[name] = (path, why)
    return marker, files


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile")
    marker, files = write_corpus(folder)
    before = snapshot(folder)
    yield folder, marker, files
    assert not marker.exists(), "a payload ran"
    assert snapshot(folder) == before, "a file on disk changed"


def run(argv, capsys):
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_the_corpus_is_large_and_varied():
    assert len(CORPUS_NAMES) + len(hostile.GIANT) >= 30
    kinds = " ".join(CORPUS_NAMES)
    for word in ("shell", "load_library", "cache", "save", "walk_os", "walk_sys",
                 "builtins", "subprocess", "importlib", "private", "dunder", "template"):
        assert word in kinds, word


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("name", CORPUS_NAMES)
def test_every_command_refuses_every_hostile_file(corpus_dir, capsys, name, command):
    folder, marker, files = corpus_dir
    path, why = files[name]
    extra = {"train": ["--out", str(folder / "runs")],
             "export": ["--format", "pt2", "-o", str(folder / "out.pt2")]}.get(command, [])
    code, out, err = run([command, str(path), *extra], capsys)
    assert code == 1, (out, err)
    assert why in err, err
    assert "node 'evil'" in err and "params." in err, err  # names the place
    assert "Traceback" not in err and "please report" not in err
    assert not marker.exists()
    assert not (folder / "out.pt2").exists() and not (folder / "runs").exists()


@pytest.mark.parametrize("name", ["testing_shell", "walk_os_system", "template_dtype_load"])
def test_real_subprocess_exits_1_without_traceback(corpus_dir, name):
    folder, marker, files = corpus_dir
    path, why = files[name]
    for cmd in (["validate", str(path)],
                ["export", str(path), "--format", "onnx", "-o", str(folder / "o.onnx")]):
        r = subprocess.run([sys.executable, "-m", "netbuilder", *cmd], capture_output=True,
                           text=True, cwd=folder)
        assert r.returncode == 1 and why in r.stderr, r.stderr
        assert "Traceback" not in r.stderr and "please report" not in r.stderr
    assert not marker.exists() and not (folder / "o.onnx").exists()


def test_an_untrusted_package_is_never_imported(tmp_path, monkeypatch, capsys):
    """A package on sys.path whose import would run the payload: naming it is refused
    without importing it (the marker stays absent)."""
    pkg = tmp_path / "evilpkg"
    pkg.mkdir()
    marker = tmp_path / hostile.MARKER
    (pkg / "__init__.py").write_text(f"open({str(marker)!r}, 'w').write('imported')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    path = tmp_path / "p.json"
    path.write_text(json.dumps(hostile.project(hostile.module("evilpkg:Net"))))
    for command in COMMANDS:
        code, _, err = run([command, str(path), "--format", "pt2", "-o", str(tmp_path / "x")]
                           if command == "export" else [command, str(path)], capsys)
        assert code == 1 and "not trusted" in err and "--trust evilpkg" in err
    assert not marker.exists() and "evilpkg" not in sys.modules


@pytest.mark.parametrize("package", ["os", "subprocess", "builtins", "ctypes", "importlib"])
def test_python_itself_cannot_be_trusted(tmp_path, capsys, package):
    path = tmp_path / "p.json"
    path.write_text(json.dumps(hostile.project(hostile.function(f"{package}:system"))))
    code, _, err = run(["validate", str(path), "--trust", package], capsys)
    assert code == 1 and "part of Python itself" in err and "Traceback" not in err


# ---- giant allocations: refused with the size in words, before anything is allocated -----

NEEDS = re.compile(r"needs [\d.,]+ [TPEZY]iB (for its parameters|for the activations)")


@pytest.fixture(scope="module")
def giant_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("giant")
    files = {}
    for name, (data, _) in hostile.GIANT.items():
        files[name] = folder / f"{name}.json"
        files[name].write_text(json.dumps(data))
    before = snapshot(folder)
    yield folder, files
    assert snapshot(folder) == before


@pytest.mark.parametrize("name", sorted(hostile.GIANT))
def test_giant_files_are_refused_by_train_and_export_with_the_size(giant_dir, capsys, name):
    folder, files = giant_dir
    have = budget.human_bytes(budget.machine_memory())
    code, out, err = run(["export", str(files[name]), "--format", "safetensors", "-o",
                          str(folder / "w.safetensors")], capsys)
    assert code == 1 and NEEDS.search(err) and f"this machine has {have}" in err, err
    assert "please report" not in err and "Traceback" not in err
    code, out, err = run(["train", str(files[name]), "--out", str(folder / "runs")], capsys)
    assert code == 1 and NEEDS.search(err) and f"this machine has {have}" in err, err
    assert "nothing was allocated" in err and "please report" not in err
    assert not (folder / "w.safetensors").exists() and not (folder / "runs").exists()
    # inspecting it allocates nothing (meta device) and warns what train/export will say
    for command in ("validate", "summary"):
        code, out, err = run([command, str(files[name])], capsys)
        # (validate may also fail on the file's dataset; the memory warning is printed anyway)
        assert code in (0, 1) and NEEDS.search(out) and "Traceback" not in err, (out, err)


def test_giant_export_in_a_real_subprocess(giant_dir):
    folder, files = giant_dir
    r = subprocess.run([sys.executable, "-m", "netbuilder", "export",
                        str(files["linear_1e6_by_1e6"]), "--format", "onnx", "-o",
                        str(folder / "g.onnx")], capture_output=True, text=True)
    assert r.returncode == 1, r.stderr
    assert "needs 3.6 TiB for its parameters (×2: the model and the reloaded export: " \
        "7.3 TiB); this machine has" in r.stderr, r.stderr
    assert "can't allocate" not in r.stderr and "Traceback" not in r.stderr
