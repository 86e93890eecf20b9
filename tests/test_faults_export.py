"""A full disk or a folder without permission during an export or a project save: a
message naming the path and what to do, no process abort, no partial file, the old file
intact; saved files follow the umask."""
import os
import shutil
import stat

import pytest

from fault_util import ERRORS, FailAt, count_writes
from netbuilder.api import example, load_project, save_project
from netbuilder.cli import main
from netbuilder.core.files import DiskError
from netbuilder.export.errors import ExportError
from netbuilder.export.exporter import export_project

FORMATS = {"torchscript": "m.pt", "onnx": "m.onnx", "pt2": "m.pt2",
           "safetensors": "m.safetensors", "python": "src"}


@pytest.mark.parametrize("error", sorted(ERRORS))
@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_a_failing_write_in_any_export_is_an_error_naming_the_path(tmp_path, monkeypatch,
                                                                    fmt, error):
    code, words = ERRORS[error]
    project = example("spirals_mlp")
    with monkeypatch.context() as m:
        counter = count_writes(m)
        export_project(project, fmt, tmp_path / "count" / FORMATS[fmt])
    assert counter.calls >= 1  # every byte goes through netbuilder's own write
    for k in range(1, counter.calls + 1):
        out = tmp_path / f"k{k}"
        out.mkdir()
        with monkeypatch.context() as m:
            fail = FailAt(m, k, code)
            with pytest.raises(ExportError) as e:
                export_project(project, fmt, out / FORMATS[fmt])
        assert fail.fired
        assert words in str(e.value) and str(out) in str(e.value), str(e.value)
        assert os.listdir(out) == [], k  # no partial file, hidden or not


def test_export_checks_the_room_first(tmp_path, monkeypatch):
    class Usage:
        free = 10_000

    monkeypatch.setattr(shutil, "disk_usage", lambda p: Usage)
    with pytest.raises(ExportError, match=r"no space left on .*: 1\.0 MiB needed for the "
                                          r"pt2 export, 9\.8 KiB free"):
        export_project(example("spirals_mlp"), "pt2", tmp_path / "m.pt2")
    assert os.listdir(tmp_path) == []


def test_the_cli_reports_a_full_disk_as_the_environments_problem(tmp_path, monkeypatch,
                                                                 capsys):
    FailAt(monkeypatch, 1, ERRORS["ENOSPC"][0])
    assert main(["export", "spirals_mlp", "--format", "torchscript", "-o",
                 str(tmp_path / "m.pt")]) == 1
    err = capsys.readouterr().err
    assert f"no space left on" in err and str(tmp_path / "m.pt") in err
    assert "please report" not in err and "pt2" not in err
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("error", sorted(ERRORS))
def test_a_failing_project_save_keeps_the_old_file(tmp_path, monkeypatch, error):
    code, words = ERRORS[error]
    path = tmp_path / "p.json"
    save_project(example("spirals_mlp"), path)
    before = path.read_bytes()
    FailAt(monkeypatch, 1, code)
    with pytest.raises(DiskError) as e:
        save_project(example("digits_cnn"), path)
    assert words in str(e.value) and str(path) in str(e.value)
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["p.json"]
    assert load_project(path).name == example("spirals_mlp").name


@pytest.mark.parametrize("mask", [0o022, 0o077, 0o002])
def test_saved_files_follow_the_umask(tmp_path, mask):
    old = os.umask(mask)
    try:
        save_project(example("spirals_mlp"), tmp_path / "p.json")
        export_project(example("spirals_mlp"), "safetensors", tmp_path / "m.safetensors")
    finally:
        os.umask(old)
    for name in ("p.json", "m.safetensors"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o666 & ~mask, name


def _dead_pid() -> int:
    import subprocess
    import sys

    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_leftovers_of_a_killed_export_or_save_are_removed_at_the_next_one(tmp_path):
    dead = _dead_pid()
    stale = [tmp_path / f".m.pt2.{dead}-x1.partial.pt2", tmp_path / f".p.json.{dead}-x2.tmp",
             tmp_path / f".m.onnx.{dead}-x3.partial.onnx.data"]
    for p in stale:
        p.write_text("half")
    running = tmp_path / f".m.pt2.1-x4.partial.pt2"  # pid 1 is alive: not a leftover
    running.write_text("being written")
    (tmp_path / "src").mkdir()
    stale_dir = tmp_path / f".src.{dead}-x5.partial"
    stale_dir.mkdir()
    (stale_dir / "model.py").write_text("half")
    export_project(example("spirals_mlp"), "pt2", tmp_path / "m.pt2")
    export_project(example("spirals_mlp"), "onnx", tmp_path / "m.onnx")
    export_project(example("spirals_mlp"), "python", tmp_path / "src")
    save_project(example("spirals_mlp"), tmp_path / "p.json")
    assert not any(p.exists() for p in (*stale, stale_dir))
    assert running.read_text() == "being written"
