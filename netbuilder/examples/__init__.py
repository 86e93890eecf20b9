"""Example projects shipped inside the package, loadable by name (`digits_cnn` ...)."""
from __future__ import annotations

from importlib import resources
from pathlib import Path

from ..core.project import Project, ProjectError, load_project, parse_project


def names() -> list[str]:
    folder = resources.files(__name__)
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".json"))


def text(name: str) -> str:
    if name not in names():
        raise ProjectError(f"no example named {name!r}; examples: {', '.join(names())}")
    return resources.files(__name__).joinpath(f"{name}.json").read_text(encoding="utf-8")


def load(name: str) -> Project:
    return parse_project(text(name), f"example {name}")


def describe(name: str) -> str:
    return load(name).description


def resolve(spec: str) -> Project:
    """A project file path, or the name of a shipped example."""
    path = Path(spec)
    if path.exists() or spec.endswith(".json") or "/" in spec or "\\" in spec:
        return load_project(path)
    if spec in names():
        return load(spec)
    raise ProjectError(f"{spec}: no such file, and no example of that name "
                       f"(examples: {', '.join(names())})")
