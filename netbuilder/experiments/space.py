"""A sweep's search space: what `--param NAME=SPEC` means, checked against the project.

    NAME  a training setting (lr, batch_size, weight_decay, epochs, optimizer, ...) or a
          layer parameter as NODE.param, NODE being the node's name or id
          (e.g. "Linear 1.out_features")
    SPEC  a list  a,b,c          (tried as given; any type the setting takes)
          a range lo:hi          (numbers only; whole numbers for whole-number settings)
          a range lo:hi:log      (sampled on a log scale; lo > 0)

Every value a list names and both ends of a range are checked as the project would check
them (the training settings' bounds, the layer's parameter spec) before anything trains,
and every problem is a `SpaceError` naming the --param it came from.
"""
from __future__ import annotations

import math
import typing
from dataclasses import dataclass

from pydantic import ValidationError

from ..core import registry
from ..core.graph import GraphError
from ..core.project import Project, TrainingSettings


class SpaceError(ValueError):
    """A --param that cannot be swept; the message is meant for a person."""


@dataclass(frozen=True)
class Dimension:
    name: str  # as the user wrote it: "lr", "Linear 1.out_features"
    kind: str  # "int", "float" or "choice"
    choices: tuple = ()  # kind "choice": the values, already of the right type
    low: float = 0.0
    high: float = 0.0
    log: bool = False
    node_id: str | None = None  # layer parameters: the node and its parameter name
    param: str | None = None

    @property
    def key(self) -> str:
        """The name Optuna stores the value under (stable across renames of the node)."""
        return f"{self.node_id}.{self.param}" if self.node_id else self.name

    def suggest(self, trial):
        """Ask an Optuna trial for this dimension's value."""
        if self.kind == "choice":
            return trial.suggest_categorical(self.key, list(self.choices))
        if self.kind == "int":
            return trial.suggest_int(self.key, int(self.low), int(self.high), log=self.log)
        return trial.suggest_float(self.key, self.low, self.high, log=self.log)

    def spec_text(self) -> str:
        if self.kind == "choice":
            return ",".join(str(c) for c in self.choices)
        return f"{self.low:g}:{self.high:g}" + (":log" if self.log else "")


def parse_space(project: Project, specs: list[str]) -> list[Dimension]:
    if not specs:
        raise SpaceError("nothing to sweep: give at least one --param NAME=SPEC, e.g. "
                         "--param lr=1e-4:1e-1:log or --param 'Linear 1.out_features=32,64'")
    dims: list[Dimension] = []
    for text in specs:
        name, sep, spec = text.partition("=")
        name, spec = name.strip(), spec.strip()
        if not sep or not name or not spec:
            raise SpaceError(f"--param {text!r}: write NAME=SPEC, e.g. lr=1e-4:1e-1:log, "
                             f"batch_size=32,64,128 or 'Linear 1.out_features=16:128'")
        try:
            dim = _dimension(project, name, spec)
        except SpaceError as e:
            raise SpaceError(f"--param {text!r}: {e}") from None
        if any(d.key == dim.key for d in dims):
            raise SpaceError(f"--param {text!r}: {name} is swept twice")
        dims.append(dim)
    return dims


def _dimension(project: Project, name: str, spec: str) -> Dimension:
    if name in TrainingSettings.model_fields:
        kind, choices = _setting_kind(name)
        check = lambda v: _check_setting(project, name, v)  # noqa: E731
        return _build(name, spec, kind, choices, check)
    node_name, dot, param_name = name.rpartition(".")
    if not dot:
        known = ", ".join(TrainingSettings.model_fields)
        raise SpaceError(f"{name!r} is neither a training setting ({known}) nor a layer "
                         f"parameter written NODE.param (e.g. 'Linear 1.out_features')")
    node = _find_node(project, node_name)
    p = registry.get(node.type).param(param_name)
    if p is None:
        known = ", ".join(x.name for x in registry.get(node.type).params) or "none"
        raise SpaceError(f"layer {node.name!r} ({node.type}) has no parameter "
                         f"{param_name!r} (it has: {known})")
    if p.kind == registry.SHAPE or p.kind == registry.STR:
        raise SpaceError(f"{name} is a {'shape' if p.kind == registry.SHAPE else 'text'} "
                         f"parameter; sweeps take numbers, true/false or choices")
    kind = {registry.INT: "int", registry.FLOAT: "float", registry.BOOL: "bool",
            registry.CHOICE: "str"}[p.kind]

    def check(v):
        msg = p.check(v)
        if msg:
            raise SpaceError(f"{param_name} {msg}")

    dim = _build(name, spec, kind, p.choices, check)
    return Dimension(**{**dim.__dict__, "node_id": node.id, "param": param_name})


def _find_node(project: Project, name: str):
    graph = project.graph
    try:
        return graph.by_name(name)
    except GraphError:
        pass
    if name in graph.nodes:
        return graph.nodes[name]
    names = ", ".join(repr(n.name) for n in graph.nodes.values())
    raise SpaceError(f"no layer named {name!r} in the project (layers: {names})")


def _setting_kind(name: str) -> tuple[str, tuple]:
    ann = TrainingSettings.model_fields[name].annotation
    if typing.get_origin(ann) is typing.Literal:
        return "str", typing.get_args(ann)
    return {int: "int", float: "float", bool: "bool"}.get(ann, "str"), ()


def _check_setting(project: Project, name: str, value) -> None:
    try:
        TrainingSettings.model_validate({**project.training.model_dump(), name: value})
    except ValidationError as e:
        err = e.errors()[0]
        raise SpaceError(f"{name} {err['msg'].lower()} (found {value!r})") from None


def _build(name: str, spec: str, kind: str, choices: tuple, check) -> Dimension:
    parts = spec.split(":")
    if ":" in spec and "," not in spec:
        if kind not in ("int", "float"):
            shown = f" ({', '.join(map(str, choices))})" if choices else ""
            raise SpaceError(f"{name} takes a list of values{shown}, not a range")
        if len(parts) not in (2, 3) or (len(parts) == 3 and parts[2].strip() != "log"):
            raise SpaceError(f"a range is lo:hi or lo:hi:log, not {spec!r}")
        low, high = (_number(p, kind, name) for p in parts[:2])
        log = len(parts) == 3
        if not low < high:
            raise SpaceError(f"the range {spec!r} is empty: lo must be below hi")
        if log and low <= 0:
            raise SpaceError(f"a log range needs lo > 0, not {parts[0].strip()}")
        for v in (low, high):
            check(v)
        return Dimension(name, kind, low=low, high=high, log=log)
    values = [v.strip() for v in spec.split(",")]
    if any(not v for v in values):
        raise SpaceError(f"the list {spec!r} has an empty entry")
    typed = tuple(_value(v, kind, choices, name) for v in values)
    if len(set(typed)) != len(typed):
        raise SpaceError(f"the list {spec!r} names a value twice")
    for v in typed:
        check(v)
    return Dimension(name, "choice", choices=typed)


def _number(text: str, kind: str, name: str):
    text = text.strip()
    try:
        if kind == "int":
            return int(text)
        value = float(text)
    except ValueError:
        whole = "a whole number" if kind == "int" else "a number"
        raise SpaceError(f"{name} takes {whole}, not {text!r}") from None
    if not math.isfinite(value):
        raise SpaceError(f"{name} must be finite, not {text!r}")
    return value


def _value(text: str, kind: str, choices: tuple, name: str):
    if kind in ("int", "float"):
        return _number(text, kind, name)
    if kind == "bool":
        if text.lower() not in ("true", "false"):
            raise SpaceError(f"{name} is true or false, not {text!r}")
        return text.lower() == "true"
    if choices and text not in choices:
        raise SpaceError(f"{name} is one of {', '.join(map(str, choices))}; not {text!r}")
    return text


def apply(project: Project, dims: list[Dimension], values: dict) -> Project:
    """A copy of `project` with the swept values (keyed by Dimension.key) set."""
    from ..core.project import parse_project

    copy = parse_project(project.to_json(), "the project")
    settings = {}
    for d in dims:
        v = values[d.key]
        if d.node_id is None:
            settings[d.name] = v
        else:
            copy.graph.set_params(d.node_id, {d.param: v})
    if settings:
        copy.training = TrainingSettings.model_validate(
            {**copy.training.model_dump(), **settings})
    return copy


__all__ = ["Dimension", "SpaceError", "parse_space", "apply"]


def suggest_spec(project: Project, name: str, value) -> str:
    """A first SPEC for "Sweep this" on a setting or layer parameter now at `value`: a log
    range over two decades around a positive number, halves and doubles of a whole number,
    every choice of a choice. The user edits it before the sweep starts."""
    if name in TrainingSettings.model_fields:
        kind, choices = _setting_kind(name)
        field_ = TrainingSettings.model_fields[name]
        limits = {type(m).__name__: m for m in field_.metadata}
    else:
        node_name, _, param_name = name.rpartition(".")
        p = registry.get(_find_node(project, node_name).type).param(param_name)
        if p is None:
            raise SpaceError(f"layer {node_name!r} has no parameter {param_name!r}")
        kind = {registry.INT: "int", registry.FLOAT: "float", registry.BOOL: "bool"}.get(
            p.kind, "str")
        choices, limits = p.choices, {}
    if kind == "bool":
        return "true,false"
    if choices:
        return ",".join(str(c) for c in choices)
    if kind == "int" and isinstance(value, int):
        return ",".join(str(v) for v in dict.fromkeys([max(1, value // 2), value, value * 2]))
    if kind == "float" and isinstance(value, (int, float)):
        top = getattr(limits.get("Lt"), "lt", None) or getattr(limits.get("Le"), "le", None)
        if value <= 0:
            return f"0:{min(0.01, top) if top else 0.01:g}"
        hi = value * 10 if top is None else min(value * 10, top * 0.99)
        return f"{value / 10:.3g}:{hi:.3g}:log"
    return str(value)
