"""Which packages project files may name code from (generic Module/Function nodes).

The rule itself lives with the generic nodes (`core/layers.py`, `code_name_problem`) so the
project loader, the analysis and shape inference all apply it. This module is the API for
the CLI (`--trust PKG`) and the editor, which asks the user before calling `trust`.
"""
from __future__ import annotations

import json
from pathlib import Path

from ..core.layers import code_name_problem, trust_packages, trusted_packages

CODE_PARAMS = {"Module": "target", "Function": "function"}


def trust(*packages: str) -> None:
    """Allow project files to name code from these packages in this process."""
    trust_packages(*packages)


def trusted() -> tuple[str, ...]:
    return trusted_packages()


def untrusted_packages(source: str | Path | dict) -> list[str]:
    """Top-level packages a project file names that are not trusted yet (what the editor
    asks about). Reads the JSON only; imports nothing."""
    data = source
    if not isinstance(source, dict):
        try:
            data = json.loads(Path(source).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return []
    found = set()
    nodes = ((data.get("graph") or {}).get("nodes") or []) if isinstance(data, dict) else []
    for n in nodes:
        if not isinstance(n, dict):
            continue
        key = CODE_PARAMS.get(n.get("type"))
        value = (n.get("params") or {}).get(key) if key else None
        if isinstance(value, str) and ":" in value and code_name_problem(value, True) \
                and "not trusted" in (code_name_problem(value, True) or ""):
            found.add(value.split(":")[0].split(".")[0])
    return sorted(found)
