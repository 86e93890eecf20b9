"""The layer registry: one declarative `LayerSpec` per layer type.

Palette, inspector, shape inference, compiler and the project-file loader all read these
specs, so adding a layer type is one `register(LayerSpec(...))` call in `layers.py`.
This module never imports torch, so menus and the file loader stay fast.
"""
from __future__ import annotations

import keyword
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

# Parameter kinds understood by the inspector and the file loader.
INT, FLOAT, BOOL, CHOICE, SHAPE, STR = "int", "float", "bool", "choice", "shape", "str"


class RegistryError(Exception):
    """A problem with the registry itself (duplicate or unknown type)."""


@dataclass(frozen=True)
class Param:
    name: str
    kind: str
    default: Any
    doc: str = ""
    min: float | None = None
    max: float | None = None
    choices: tuple = ()
    # SHAPE only: how many entries are allowed.
    min_len: int = 0
    max_len: int = 8
    # SHAPE only: may entries be -1 (Reshape infers one dimension)?
    allow_minus_one: bool = False

    def check(self, value: Any, bounds: bool = True) -> str | None:
        """Return a human message when `value` is not acceptable, else None.
        With bounds=False only the type is checked (the file loader keeps out-of-range
        values so the editor can show and fix them)."""
        k = self.kind
        if k == BOOL:
            return None if isinstance(value, bool) else f"must be true or false, not {_show(value)}"
        if k == INT:
            if isinstance(value, bool) or not isinstance(value, int):
                return f"must be a whole number, not {_show(value)}"
            return self._bounds(value) if bounds else None
        if k == FLOAT:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                return f"must be a number, not {_show(value)}"
            if value != value or value in (float("inf"), float("-inf")):
                return f"must be a finite number, not {_show(value)}"
            return self._bounds(value) if bounds else None
        if k == CHOICE:
            if value not in self.choices:
                opts = ", ".join(repr(c) for c in self.choices)
                return f"must be one of {opts}, not {_show(value)}"
            return None
        if k == STR:
            return None if isinstance(value, str) else f"must be text, not {_show(value)}"
        if k == SHAPE:
            if not isinstance(value, (list, tuple)):
                return f"must be a list of whole numbers, not {_show(value)}"
            if bounds and not self.min_len <= len(value) <= self.max_len:
                return f"must have {self.min_len} to {self.max_len} entries, has {len(value)}"
            for v in value:
                if isinstance(v, bool) or not isinstance(v, int):
                    return f"must contain whole numbers only, found {_show(v)}"
                if not bounds or (v == -1 and self.allow_minus_one):
                    continue
                if self.min is not None and v < self.min:
                    return f"entries must be at least {self._fmt(self.min)}, found {v}"
                if self.max is not None and v > self.max:
                    return f"entries must be at most {self._fmt(self.max)}, found {v}"
            if bounds and self.allow_minus_one and list(value).count(-1) > 1:
                return "may contain -1 at most once"
            return None
        raise RegistryError(f"unknown parameter kind {k!r}")

    def _bounds(self, value: float) -> str | None:
        if self.min is not None and value < self.min:
            return f"must be at least {self._fmt(self.min)}, got {value}"
        if self.max is not None and value > self.max:
            return f"must be at most {self._fmt(self.max)}, got {value}"
        return None

    @staticmethod
    def _fmt(x: float) -> str:
        return str(int(x)) if float(x).is_integer() else str(x)


def _show(value: Any) -> str:
    """repr clipped so a hostile or huge value cannot flood a message."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _default_apply(call, xs, p):
    return call(xs[0])


@dataclass(frozen=True)
class LayerSpec:
    """Everything netbuilder knows about one layer type.

    build(params, in_shapes) -> nn.Module | None
        Creates the torch module. `in_shapes` are full shapes with a concrete batch of 1,
        so sizes such as in_features are read from the upstream shape, never typed.
    apply(call, xs, params) -> tensor
        The forward step, written with ordinary torch ops. `call` invokes the module built
        above. Shape inference runs it on meta tensors; the compiler runs it on torch.fx
        proxies, so both always agree.
    ranks: allowed input ranks (batch included) per input port; None accepts any.
    rank_hint: what to tell the user when the rank is wrong.
    """

    type: str
    category: str
    doc: str
    params: tuple[Param, ...] = ()
    build: Callable[[dict, list[tuple]], Any] | None = None
    apply: Callable = _default_apply
    inputs: Callable[[dict], tuple[str, ...]] | tuple[str, ...] = ("in",)
    outputs: tuple[str, ...] = ("out",)
    ranks: tuple[int, ...] | None = None
    rank_hint: str = ""
    dtypes: tuple[str, ...] = ("float32",)  # accepted input dtypes
    key_params: tuple[str, ...] = ()
    formula: Callable | None = None  # activations: the function, for palette plots
    # check(params, in_shapes) -> message | None: shape rules torch would only state
    # cryptically (or not at all), written for a person. Shapes include the batch (None).
    check: Callable | None = None
    tags: frozenset = field(default_factory=frozenset)

    def input_ports(self, params: dict | None = None) -> tuple[str, ...]:
        if callable(self.inputs):
            return self.inputs(self.fill(params or {}))
        return self.inputs

    def param(self, name: str) -> Param | None:
        for p in self.params:
            if p.name == name:
                return p
        return None

    def defaults(self) -> dict:
        return {p.name: _copy(p.default) for p in self.params}

    def fill(self, params: dict) -> dict:
        """The full parameter dict: defaults overridden by `params`."""
        out = self.defaults()
        out.update(params)
        return out

    def check_params(self, params: dict) -> list[tuple[str, str]]:
        """(param name, message) for every unknown or invalid value."""
        problems = []
        for name in params:
            if self.param(name) is None:
                known = ", ".join(p.name for p in self.params) or "none"
                problems.append((name, f"is not a parameter of {self.type} (known: {known})"))
        for p in self.params:
            if p.name in params:
                msg = p.check(params[p.name])
                if msg:
                    problems.append((p.name, msg))
        return problems


def _copy(v):
    return list(v) if isinstance(v, (list, tuple)) else v


_REGISTRY: dict[str, LayerSpec] = {}


def register(spec: LayerSpec) -> LayerSpec:
    if spec.type in _REGISTRY:
        raise RegistryError(f"layer type {spec.type!r} is registered twice")
    names = [p.name for p in spec.params]
    if len(set(names)) != len(names):
        raise RegistryError(f"{spec.type}: duplicate parameter names")
    for p in spec.params:
        if p.check(p.default):
            raise RegistryError(f"{spec.type}.{p.name}: default {p.default!r} {p.check(p.default)}")
    _REGISTRY[spec.type] = spec
    return spec


_LOADED: list[bool] = []


def _ensure_loaded() -> None:
    if not _LOADED:  # a flag, not "registry empty": blocks.py may register first
        _LOADED.append(True)
        from . import blocks, layers  # noqa: F401  (register every built-in type)


def get(type_name: str) -> LayerSpec:
    _ensure_loaded()
    try:
        return _REGISTRY[type_name]
    except KeyError:
        close = [t for t in _REGISTRY if t.lower() == str(type_name).lower()]
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise RegistryError(f"unknown layer type {type_name!r}{hint}") from None


def has(type_name: str) -> bool:
    _ensure_loaded()
    return type_name in _REGISTRY


def all_specs() -> list[LayerSpec]:
    _ensure_loaded()
    return list(_REGISTRY.values())


def categories() -> dict[str, list[LayerSpec]]:
    out: dict[str, list[LayerSpec]] = {}
    for s in all_specs():
        out.setdefault(s.category, []).append(s)
    return out


def identifier(name: str) -> str:
    """A Python identifier derived from a node name ('Conv 1' -> 'conv_1')."""
    s = re.sub(r"\W+", "_", name.strip()).strip("_").lower()
    if not s:
        s = "layer"
    if s[0].isdigit():
        s = "l_" + s
    if keyword.iskeyword(s) or s in {"self", "forward", "input", "training"}:
        s += "_"
    return s


def fmt_shape(shape: Sequence) -> str:
    """'N×32×7×7' with the symbolic batch as N."""
    return "×".join("N" if d is None else str(d) for d in shape)
