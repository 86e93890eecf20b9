"""Which packages project files may name code from (generic Module/Function nodes).

The rule itself is core/allowlist.py, so the project loader, the analysis and shape
inference all apply it. This module is the API for the CLI (`--trust PKG`) and the editor,
which asks the user (naming the classes and functions the file wants) before `trust`.
Trusting a package applies the same allowlist rule to it (its nn.Module classes and its
functions), never "run anything from it"; Python's own modules cannot be trusted.
"""
from __future__ import annotations

import json
from pathlib import Path

from ..core.allowlist import (CodeRefused, FUNCTION, MODULE, name_problem, trust_packages,
                              trust_problem, trusted_packages)

CODE_PARAMS = {"Module": ("target", MODULE), "Function": ("function", FUNCTION)}

__all__ = ["CodeRefused", "trust", "trusted", "untrusted_packages", "untrusted_code",
           "wanted_code"]


def trust(*packages: str) -> None:
    """Allow project files to name code from these packages in this process (raises
    CodeRefused for Python's own modules)."""
    trust_packages(*packages)


def trusted() -> tuple[str, ...]:
    return trusted_packages()


def _read(source) -> dict:
    if isinstance(source, dict):
        return source
    try:
        data = json.loads(Path(source).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def untrusted_code(source: str | Path | dict) -> list[str]:
    """The code names ('pkg.module:Name') a project file wants from packages that are not
    trusted yet but could be, in file order (Python's own modules are never asked about:
    the loader refuses them). Reads the JSON only; imports nothing."""
    graph = _read(source).get("graph")
    nodes = graph.get("nodes") if isinstance(graph, dict) else None
    found: list[str] = []
    for n in nodes if isinstance(nodes, list) else []:
        if not isinstance(n, dict) or n.get("type") not in CODE_PARAMS:
            continue
        key, kind = CODE_PARAMS[n["type"]]
        params = n.get("params")
        value = params.get(key) if isinstance(params, dict) else None
        if isinstance(value, str) and "not trusted" in (name_problem(value, kind) or "") \
                and trust_problem(value.split(".")[0].split(":")[0]) is None \
                and value not in found:
            found.append(value)
    return found


def untrusted_packages(source: str | Path | dict) -> list[str]:
    """Top-level packages a project file names that are not trusted yet."""
    return sorted({name.split(":")[0].split(".")[0] for name in untrusted_code(source)})


def wanted_code(source: str | Path | dict, limit: int = 8) -> str:
    """'mymodels.nets.Net, mymodels.nets.helper' for the editor's question."""
    names = [n.replace(":", ".") for n in untrusted_code(source)]
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more
