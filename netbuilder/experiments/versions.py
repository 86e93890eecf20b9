"""Where a version of a project comes from, for `netbuilder diff` and "Compare with…": a
project file, the name of a shipped example, or a run folder (a sweep trial's project.json,
or the project saved in the run's checkpoint). Reading never unpickles or runs anything."""
from __future__ import annotations

from pathlib import Path

from ..core.project import Project, ProjectError, load_project


def project_file_of_run(folder: Path) -> Path | None:
    """The project a run folder was trained with, or None when it holds none."""
    from ..training import checkpoint_slots as slots  # no torch

    if (folder / "project.json").is_file():
        return folder / "project.json"
    for kind in ("last", "best"):
        slot = folder / "checkpoints" / kind
        try:
            found = slots.resolve(slot) / "project.json"
        except (OSError, ValueError):
            continue
        if found.is_file():
            return found
    return None


def load_version(spec: str) -> Project:
    """A project file, an example's name or a run folder; ProjectError names the problem."""
    from ..examples import resolve

    path = Path(spec)
    if path.is_dir():
        found = project_file_of_run(path)
        if found is None:
            raise ProjectError(f"{spec}: is a folder without a project (looked for "
                               f"project.json and checkpoints/last/project.json); give a "
                               f"project file, an example's name or a run folder")
        return load_project(found)
    return resolve(spec)
