"""What a project file's generic nodes may name: an allowlist by purpose, checked on the
object a name resolves to (identity), never on the text alone.

- A `Module` target is an nn.Module class defined in a public module of torch.nn,
  torchvision.models or torchvision.ops, one of torchvision's registered model builders
  (`torchvision.models.list_models()`), or an nn.Module class or factory function defined
  in a package the user trusted (`--trust PKG`).
- A `Function` is a pure tensor computation: what torch lists as overridable tensor
  functions (`torch.overrides.get_overridable_functions()`: torch.*, torch.nn.functional.*,
  torch.linalg/fft/special, Tensor methods) except the few that are not computations
  (hooks, storage, callables as arguments), the arithmetic `operator` functions, or a
  function defined in a trusted package.

A denylist of dangerous names can never be complete (a trusted package always has one
more helper that runs source text), so nothing is accepted for being "not known bad".
Looking a name up never runs code from the file: the text is checked first (format, no
private `_x` part anywhere, a trusted top-level package); only the trusted root packages
are imported; for torch and torchvision only modules they load themselves are looked in
(`importlib` on `torch.x._y` could execute a private module); attributes are read with
`inspect.getattr_static`, so no module `__getattr__` hook (lazy imports) runs.
"""
from __future__ import annotations

import importlib
import inspect
import re
import sys

TRUSTED_PACKAGES = ("torch", "torchvision")
MODULE, FUNCTION = "module", "function"
# Where nn.Module classes of the trusted packages live (what generic Module nodes are for).
MODULE_HOMES = ("torch.nn", "torchvision.models", "torchvision.ops")
# operator functions that compute on values (attrgetter, methodcaller, call ... do not).
OPERATORS = frozenset("add sub mul truediv floordiv mod pow matmul neg pos abs invert "
                      "getitem eq ne lt le gt ge and_ or_ xor iadd isub imul itruediv "
                      "ifloordiv imod ipow imatmul".split())
# Overridable Tensor methods that are not computations on tensor values: they take a
# callable, run autograd, expose storage or shared memory, or leave the tensor world.
NOT_COMPUTATIONS = frozenset(
    "apply_ map_ map2_ register_hook register_post_accumulate_grad_hook backward "
    "share_memory_ set_ storage untyped_storage storage_type module_load numpy tolist "
    "pin_memory is_pinned is_shared".split())
# Words (between underscores) of argument names that point at files, downloads, code or
# pretrained weights.
_FILE_WORDS = frozenset("weights pretrained file files filename fname fp f path paths url uri "
                        "dir directory folder root download checkpoint cache hub source code "
                        "cmd command shell script".split())
MAX_REPEATS = 4096  # sub-layers a Module's kwargs may ask for (see _count_word)
_NAME = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")

_trusted_extra: set[str] = set()
_cache: dict[tuple, object] = {}


class CodeRefused(ValueError):
    """A name a generic node may not use; the message says why, for a person."""


# ---- trust ---------------------------------------------------------------------------------

def trust_problem(name: str) -> str | None:
    """Why `--trust name` cannot be granted, or None."""
    root = str(name).split(".")[0]
    if not re.match(r"^[A-Za-z]\w*$", root):
        return f"--trust {name!r}: give the top-level name of an installed Python package"
    if root in sys.stdlib_module_names or root in sys.builtin_module_names:
        return (f"--trust {root}: {root} is part of Python itself, not a package of models; "
                f"netbuilder never lets a project call it")
    return None


def trust_packages(*names: str) -> list[str]:
    """Apply the allowlist rule to these top-level packages too (their nn.Module classes
    and functions), in this process. Raises CodeRefused for Python's own modules."""
    roots = []
    for n in names:
        if not n:
            continue
        msg = trust_problem(n)
        if msg:
            raise CodeRefused(msg)
        roots.append(n.split(".")[0])
    extra = [r for r in roots if r not in TRUSTED_PACKAGES]
    if extra:
        _trusted_extra.update(extra)
        _cache.clear()
    return roots


def trusted_packages() -> tuple[str, ...]:
    return TRUSTED_PACKAGES + tuple(sorted(_trusted_extra))


# ---- the text (no import) -------------------------------------------------------------------

def what_is_allowed(kind: str) -> str:
    if kind == MODULE:
        return ("a Module node may name an nn.Module class from torch.nn, torchvision.models "
                "or torchvision.ops, or a torchvision model builder")
    return ("a Function node may name a tensor computation: torch, torch.nn.functional, "
            "torch.linalg/fft/special or Tensor functions, or operator arithmetic")


def name_problem(name: str, kind: str = MODULE) -> str | None:
    """What is wrong with `name` ('package.module:attr') as text, or None. Imports nothing."""
    if not isinstance(name, str) or not _NAME.match(name):
        return f"must name code as 'package.module:name', not {name!r}"
    module, attr = name.split(":")
    parts = module.split(".") + attr.split(".")
    if any(p.startswith("_") for p in parts):
        return (f"{name} is refused: it names a private part "
                f"({next(p for p in parts if p[0] == '_')!r}); {what_is_allowed(kind)}")
    root = parts[0]
    if kind == FUNCTION and module == "operator":
        return None if attr in OPERATORS else (
            f"{name} is refused: operator.{attr} is not an arithmetic operator")
    if root in TRUSTED_PACKAGES or root in _trusted_extra:
        return None
    if trust_problem(root):
        return (f"{name} is refused: {root} is part of Python itself; a project may never "
                f"call it ({what_is_allowed(kind)})")
    return (f"names code from package {root!r} ({name}), which is not trusted; opening a "
            f"file must never run code you did not choose to run. If you trust {root!r}, "
            f"allow it explicitly (command line: --trust {root})")


# ---- the object ------------------------------------------------------------------------------

def _allowed_functions() -> tuple[dict, dict]:
    """(id -> function, id -> Tensor method) of pure tensor computations."""
    hit = _cache.get("functions")
    if hit is None:
        import operator

        import torch

        functions, methods = {}, {}
        for space, items in torch.overrides.get_overridable_functions().items():
            if not (space is torch.Tensor or inspect.ismodule(space)):
                continue  # property getters
            for f in items:
                name = getattr(f, "__name__", "")
                if name.startswith("_") or name in NOT_COMPUTATIONS:
                    continue
                (methods if space is torch.Tensor else functions)[id(f)] = f
        for name in OPERATORS:
            f = getattr(operator, name)
            functions[id(f)] = f
        hit = _cache["functions"] = (functions, methods)
    return hit


def _model_builders() -> dict:
    hit = _cache.get("builders")
    if hit is None:
        import torchvision.models as tvm

        hit = _cache["builders"] = {id(b): b for b in map(tvm.get_model_builder,
                                                            tvm.list_models())}
    return hit


def _public(qualname: str) -> bool:
    return all(p and not p.startswith("_") and p != "<locals>" for p in qualname.split("."))


def _home(obj) -> str:
    return getattr(obj, "__module__", None) or ""


def _in_trusted_extra(obj) -> bool:
    home = _home(obj)
    return home.split(".")[0] in _trusted_extra and _public(home) \
        and _public(getattr(obj, "__qualname__", "_"))


def _takes_files(fn) -> str | None:
    """The first parameter that names a file, a path, a URL or code, if any."""
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return None
    return next((p for p in params if _file_word(p)), None)


def _file_word(name) -> bool:
    return any(w in _FILE_WORDS for w in str(name).lower().split("_"))


def _lookup(name: str, kind: str):
    module_name, attr = name.split(":")
    root = module_name.split(".")[0]
    if root in TRUSTED_PACKAGES or module_name == "operator":
        importlib.import_module(root)  # trusted roots only; `operator` is built in
        _allowed_functions()  # loads what torch lists, so lookups below are stable
        module = sys.modules.get(module_name)
        if module is None:
            raise CodeRefused(f"{name} is refused: {module_name} is not a module {root} loads "
                              f"itself (netbuilder imports no further module to look a name "
                              f"up); {what_is_allowed(kind)}")
    else:  # a package the user trusted: its own public modules may be imported
        try:
            module = importlib.import_module(module_name)
        except Exception as e:  # noqa: BLE001 - the trusted package's own failure
            raise CodeRefused(f"{name}: importing {module_name!r} failed "
                              f"({type(e).__name__}: {e})") from None
    obj = module
    for part in attr.split("."):
        try:
            obj = inspect.getattr_static(obj, part)
        except AttributeError:
            raise CodeRefused(f"{name} is refused: {getattr(obj, '__name__', '?')} has no "
                              f"attribute {part!r} (as loaded); {what_is_allowed(kind)}") \
                from None
        if isinstance(obj, staticmethod):
            obj = obj.__func__
    return obj


def _module_target_ok(obj) -> bool:
    import torch.nn as nn

    if inspect.isclass(obj) and issubclass(obj, nn.Module):
        home = _home(obj)
        if any(home == h or home.startswith(h + ".") for h in MODULE_HOMES):
            return _public(home) and _public(obj.__qualname__)
        return _in_trusted_extra(obj)
    if id(obj) in _model_builders():
        return _downloads_by_default(obj) is None
    return inspect.isfunction(obj) and _in_trusted_extra(obj) and not _takes_files(obj)


def _function_ok(obj) -> bool:
    functions, methods = _allowed_functions()
    if id(obj) in functions or id(obj) in methods:
        return True
    return inspect.isfunction(obj) and _in_trusted_extra(obj) and not _takes_files(obj)


def resolve(name: str, kind: str = MODULE):
    """The object `name` names, when a generic node of `kind` may use it; else raises
    CodeRefused. The decision is cached per trusted set."""
    key = (name, kind, frozenset(_trusted_extra))
    hit = _cache.get(key)
    if isinstance(hit, CodeRefused):
        raise hit
    if hit is not None:
        return hit
    try:
        msg = name_problem(name, kind)
        if msg:
            raise CodeRefused(msg)
        obj = _lookup(name, kind)
        ok = _module_target_ok(obj) if kind == MODULE else _function_ok(obj)
        if not ok and kind == MODULE and id(obj) in _model_builders():
            raise CodeRefused(f"{name} is refused: {_downloads_by_default(obj)}")
        if not ok:
            what = "an nn.Module class or a model builder netbuilder allows" \
                if kind == MODULE else "a tensor computation netbuilder allows"
            raise CodeRefused(f"{name} is refused: it is not {what}; "
                              f"{what_is_allowed(kind)}")
    except CodeRefused as e:
        _cache[key] = e
        raise
    _cache[key] = obj
    return obj


def code_problem(name: str, kind: str = MODULE) -> str | None:
    """Why a generic node of `kind` may not name `name`, or None (imports only trusted
    roots; see the module docstring)."""
    try:
        resolve(name, kind)
    except CodeRefused as e:
        return str(e)
    return None


def is_tensor_method(obj) -> bool:
    return id(obj) in _allowed_functions()[1]


# ---- keyword arguments of a Module target -------------------------------------------------------

def _looks_like_location(v: str) -> bool:
    return bool(re.search(r"[/\\~]|://|^\.|\.(pt|pth|pkl|pickle|bin|ckpt|safetensors|onnx|"
                          r"json|zip|tar|so|dll|dylib|py)$", v, re.I))


def kwargs_problem(kwargs: dict) -> str | None:
    """Module kwargs are plain values; none may name a file, a URL or weights (which would
    download or read a file). Text only: the loader checks it before anything is built."""
    def walk(key, v):
        if isinstance(v, dict):
            return next((m for k, x in v.items() if (m := walk(k, x))), None)
        if isinstance(v, list):
            return next((m for x in v if (m := walk(key, x))), None)
        if isinstance(v, str) and _looks_like_location(v):
            return (f"argument {key}={v!r} looks like a file or a URL; a project may not "
                    f"name files")
        return None

    for k, v in kwargs.items():
        if _count_word(k) and isinstance(v, int) and v > MAX_REPEATS:
            return (f"argument {k}={v:,} would build {v:,} sub-layers (at most "
                    f"{MAX_REPEATS:,}); even inspecting it would exhaust memory")
        if _file_word(k) and v not in (None, False):
            return (f"argument {k}={_short(v)} names weights, a file or a URL; a project may "
                    f"not ask for them (weights come from the checkpoint)")
        msg = walk(k, v)
        if msg:
            return msg
    return None


def _count_word(name) -> bool:
    """num_layers, depth, num_blocks ...: counts of sub-layers. Shapes are inferred on the
    meta device, which costs no tensor memory, but every sub-layer is a Python object."""
    return any(w in ("layers", "depth", "blocks", "repeats", "stages")
               for w in str(name).lower().split("_"))


def _short(v) -> str:
    text = repr(v)
    return text if len(text) <= 60 else text[:57] + "..."


def _downloads_by_default(obj) -> str | None:
    """A builder argument that defaults to pretrained weights (detection models download
    their backbone's), so calling it with plain kwargs would fetch a file."""
    try:
        params = inspect.signature(obj).parameters.values()
    except (TypeError, ValueError):
        return None
    for p in params:
        if _file_word(p.name) and p.default not in (None, False, p.empty) \
                and not isinstance(p.default, (bool, int, float)):
            return f"its argument {p.name} defaults to {p.default!r} (a download)"
    return None
