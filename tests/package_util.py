"""Throwaway user packages written by tests (the `mymodels` of the trust tests)."""
import importlib
import sys
import textwrap


def forget_package(name: str) -> None:
    """Unload a test's throwaway package, so the next test imports its own files."""
    for m in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
        del sys.modules[m]
    importlib.invalidate_caches()


def write_package(tmp_path, monkeypatch, source: str, name: str = "mymodels"):
    """`name`/nets.py holding `source`, importable for this test only."""
    pkg = tmp_path / name
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "nets.py").write_text(textwrap.dedent(source))
    monkeypatch.syspath_prepend(str(tmp_path))
    forget_package(name)  # another test's package of the same name may be loaded
