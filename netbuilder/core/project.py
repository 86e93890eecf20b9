"""Project files: human-readable JSON with a format version.

Loading reads text and validates it (pydantic for structure, the layer registry for types
and parameters); it never executes code and never unpickles. Every message names the
field and, where there is one, the node. Saving writes a temporary file beside the target
and renames it over, so a crash never leaves a half-written project.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, Union

from psygnal import evented
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, \
    StrictStr, ValidationError

from . import registry
from .files import atomic_write
from .graph import Graph

FORMAT = "netbuilder-project"
VERSION = 2  # 2: graph.blocks (block definitions); version 1 files have none and still open
MAX_BYTES = 64 * 1024 * 1024
MAX_NODES = 100_000


class ProjectError(ValueError):
    """A project file that cannot be loaded; the message is meant for a person."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


# Parameter values are checked against the layer's spec in _check_graph, which gives one
# clear message ("must be a whole number") instead of pydantic's per-union-member list.
ParamValue = Any
Finite = Annotated[float, Field(allow_inf_nan=False)]


class NodeModel(_Strict):
    id: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.\-]{1,64}$")]
    type: Annotated[str, Field(min_length=1, max_length=64)]
    name: Annotated[str, Field(min_length=1, max_length=200)]
    params: dict[str, ParamValue] = {}
    pos: Annotated[list[Finite], Field(min_length=2, max_length=2)] = [0.0, 0.0]
    # Fine-tuning; optional, so files from before them load unchanged (no version bump).
    frozen: StrictBool = False
    lr_mult: Annotated[float, Field(gt=0, le=1000, allow_inf_nan=False)] = 1.0


class EdgeModel(_Strict):
    src: str
    src_port: str = "out"
    dst: str
    dst_port: str = "in"


class DefinitionModel(_Strict):
    nodes: Annotated[list[NodeModel], Field(max_length=MAX_NODES)]
    edges: list[EdgeModel] = []


class GraphModel(_Strict):
    nodes: Annotated[list[NodeModel], Field(max_length=MAX_NODES)]
    edges: list[EdgeModel] = []
    blocks: Annotated[dict[str, DefinitionModel], Field(max_length=10_000)] = {}


LOSSES = ("mse", "l1", "huber", "bce", "bce_with_logits", "cross_entropy", "nll", "hinge",
          "quantile")


class TrainingSettings(_Strict):
    # Frozen: a change is a new value assigned to project.training, which emits an event.
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    loss: Literal[LOSSES] = "cross_entropy"
    optimizer: Literal["sgd", "adagrad", "rmsprop", "adam", "adamw"] = "adam"
    lr: Annotated[float, Field(gt=0, le=10, allow_inf_nan=False)] = 1e-3
    momentum: Annotated[float, Field(ge=0, lt=1)] = 0.9
    nesterov: bool = False
    weight_decay: Annotated[float, Field(ge=0, le=1)] = 0.0
    schedule: Literal["none", "step", "cosine", "onecycle", "plateau"] = "none"
    batch_size: Annotated[int, Field(ge=1, le=65536)] = 64
    epochs: Annotated[int, Field(ge=1, le=100_000)] = 10
    seed: Annotated[int, Field(ge=0, le=2**31 - 1)] = 0
    device: Literal["auto", "cpu", "cuda", "mps"] = "auto"
    mixed_precision: bool = False
    quantile: Annotated[float, Field(gt=0, lt=1)] = 0.5  # the level of the quantile loss
    # Start a new run from these weights (checkpoint folder, .safetensors or a state_dict
    # file; see training/init_weights.py); "" = fresh weights. Written only when set.
    init_weights: Annotated[str, Field(max_length=4096)] = ""


class DatasetChoice(_Strict):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)  # as TrainingSettings

    name: Annotated[str, Field(min_length=1, max_length=200)]
    options: dict[str, Union[StrictBool, StrictInt, StrictFloat, StrictStr]] = {}


class ProjectModel(_Strict):
    format: Literal[FORMAT]
    version: StrictInt
    name: Annotated[str, Field(max_length=200)] = ""
    description: Annotated[str, Field(max_length=10_000)] = ""
    graph: GraphModel
    training: TrainingSettings = TrainingSettings()
    dataset: DatasetChoice | None = None


@evented  # project.events.training / .dataset / .name ... fire on assignment (psygnal)
@dataclass
class Project:
    graph: Graph = field(default_factory=Graph)
    name: str = "untitled"
    description: str = ""
    training: TrainingSettings = field(default_factory=TrainingSettings)
    dataset: DatasetChoice | None = None

    def to_dict(self) -> dict:
        return {
            "format": FORMAT,
            "version": VERSION,
            "name": self.name,
            "description": self.description,
            "graph": self.graph.to_dict(),
            "training": self.training.model_dump(exclude={"init_weights"}
                                                 if not self.training.init_weights else None),
            "dataset": self.dataset.model_dump() if self.dataset else None,
        }

    def to_json(self) -> str:
        return _dumps(self.to_dict()) + "\n"


def _dumps(obj, level: int = 0) -> str:
    """JSON with two-space indents, but short lists and params kept on one line, so a
    project reads (and diffs) one node per few lines."""
    flat = json.dumps(obj, ensure_ascii=False)
    if not isinstance(obj, (dict, list)) or len(flat) <= 100 - 2 * level and (
            isinstance(obj, list) or level >= 3):
        return flat
    pad, inner = "  " * level, "  " * (level + 1)
    if isinstance(obj, dict):
        items = [f"{inner}{json.dumps(k)}: {_dumps(v, level + 1)}" for k, v in obj.items()]
        return "{\n" + ",\n".join(items) + f"\n{pad}}}" if items else "{}"
    items = [f"{inner}{_dumps(v, level + 1)}" for v in obj]
    return "[\n" + ",\n".join(items) + f"\n{pad}]" if items else "[]"


# ---- saving -------------------------------------------------------------------------------

def save_project(project: Project, path: str | os.PathLike) -> None:
    """Write atomically (files.atomic_write): the old file or the new one, never a part.
    Raises files.DiskError (an OSError) naming the path on a full disk or no permission."""
    atomic_write(path, project.to_json())


# ---- loading --------------------------------------------------------------------------------

def _reject_constant(name: str):
    raise ValueError(f"{name} is not allowed in a project file")


def load_project(path: str | os.PathLike) -> Project:
    path = Path(path)
    where = str(path)
    if not path.exists():
        raise ProjectError(f"{where}: no such file")
    if not path.is_file():
        raise ProjectError(f"{where}: is not a file")
    if path.stat().st_size > MAX_BYTES:
        raise ProjectError(f"{where}: the file is larger than {MAX_BYTES // 2**20} MiB; "
                           f"it is not a netbuilder project")
    raw = path.read_bytes()
    return parse_project(raw, where)


def parse_project(raw: bytes | str, where: str = "<project>") -> Project:
    if isinstance(raw, bytes):
        if raw[:2] in (b"\xff\xfe", b"\xfe\xff"):
            raise ProjectError(f"{where}: is UTF-16 text; netbuilder project files are UTF-8 "
                               f"(re-save it with UTF-8 encoding)")
        if raw[:1] == b"\x80" or b"\x00" in raw[:4096]:
            raise ProjectError(f"{where}: is a binary file (it looks like a Python pickle or "
                               f"a checkpoint), not a netbuilder project; netbuilder never "
                               f"unpickles files")
        try:
            text = raw.decode("utf-8-sig")  # a byte-order mark is harmless
        except UnicodeDecodeError as e:
            raise ProjectError(f"{where}: is not UTF-8 text (bad byte at offset {e.start})"
                               ) from None
    else:
        text = raw
    if not text.strip():
        raise ProjectError(f"{where}: the file is empty")
    try:
        data = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as e:
        end = "; the file ends early (was it truncated?)" if e.pos >= len(text.rstrip()) else ""
        raise ProjectError(f"{where}: invalid JSON at line {e.lineno}, column {e.colno}: "
                           f"{e.msg}{end}") from None
    except RecursionError:
        raise ProjectError(f"{where}: invalid JSON: nested too deeply") from None
    except ValueError as e:
        if "digits" in str(e):  # Python's int-size guard
            raise ProjectError(f"{where}: contains a number with thousands of digits; no "
                               f"project value is that large") from None
        raise ProjectError(f"{where}: invalid JSON: {e}") from None
    return project_from_data(data, where)


def project_from_data(data, where: str = "<project>") -> Project:
    if not isinstance(data, dict):
        raise ProjectError(f"{where}: expected a JSON object at the top level, found "
                           f"{type(data).__name__}")
    if "format" not in data:
        raise ProjectError(f"{where}: field 'format' is missing; this is not a netbuilder "
                           f"project (expected \"format\": \"{FORMAT}\")")
    if data.get("format") != FORMAT:
        raise ProjectError(f"{where}: not a netbuilder project (field 'format' must be "
                           f"{FORMAT!r}, found {data.get('format')!r})")
    version = data.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ProjectError(f"{where}: field 'version' must be a positive whole number, found "
                           f"{version!r}")
    if version > VERSION:
        raise ProjectError(f"{where}: unknown format version {version}; this netbuilder reads "
                           f"version {VERSION} (the file was written by a newer netbuilder)")
    try:
        model = ProjectModel.model_validate(data)
    except ValidationError as e:
        raise ProjectError(f"{where}: " + _explain(e, data)) from None
    graph_data = model.graph.model_dump()
    _check_blocks(graph_data, where)
    _check_graph(graph_data, where, _ports_of(graph_data["blocks"]),
                 block_outputs=_ports_of(graph_data["blocks"], "BlockOutput"))
    graph = Graph.from_dict(graph_data)
    return Project(graph=graph, name=model.name or Path(where).stem,
                   description=model.description, training=model.training,
                   dataset=model.dataset)


def _node_label(data, idx, loc=("graph", "nodes")) -> str:
    try:
        n = data
        for part in (*loc, idx):
            n = n[part]
        return f" (node {n.get('id')!r} {n.get('name', '')!r})"
    except (KeyError, IndexError, TypeError, AttributeError):
        return ""


def _explain(err: ValidationError, data) -> str:
    msgs = []
    for e in err.errors()[:5]:
        loc = e["loc"]
        parts = []
        for i, part in enumerate(loc):
            if isinstance(part, int):
                parts[-1] += f"[{part}]"
                if loc[:i] == ("graph", "nodes") or (
                        len(loc[:i]) == 4 and loc[:2] == ("graph", "blocks")
                        and loc[3] == "nodes"):
                    parts[-1] += _node_label(data, part, loc[:i])
            else:
                parts.append(str(part))
        field_ = ".".join(parts) or "(top level)"
        msg = e["msg"]
        if e["type"] == "extra_forbidden":
            msg = "unknown field (not part of the project format)"
        elif e["type"] == "missing":
            msg = "required field is missing"
        elif "input" in e and e["type"] not in ("model_type",):
            shown = json.dumps(e["input"])[:60] if _jsonable(e["input"]) else repr(e["input"])
            msg = f"{msg} (found {shown})"
        msgs.append(f"field {field_}: {msg}")
    more = len(err.errors()) - 5
    return "; ".join(msgs) + (f"; and {more} more problem(s)" if more > 0 else "")


def _jsonable(v) -> bool:
    try:
        json.dumps(v)
        return True
    except (TypeError, ValueError):
        return False


def _ports_of(blocks: dict, kind: str = "BlockInput") -> dict[str, tuple[str, ...]]:
    """definition name -> its input port names (BlockInput node names, in node order), or
    with kind="BlockOutput" its output port names."""
    from .blocks import output_port_names

    names = {name: [n["name"] for n in d["nodes"] if n["type"] == kind]
             for name, d in blocks.items()}
    if kind == "BlockOutput":
        return {name: output_port_names(v) for name, v in names.items()}
    return {name: tuple(v) for name, v in names.items()}


def _check_blocks(g: dict, where: str) -> None:
    """Block definitions: names, contents, references between them, no recursion."""
    from .blocks import NAME_RE

    blocks = g["blocks"]
    ports, outputs = _ports_of(blocks), _ports_of(blocks, "BlockOutput")
    uses: dict[str, list[str]] = {}
    for name, d in blocks.items():
        place = f"graph.blocks[{name!r}]"
        if not NAME_RE.match(name) or name != name.strip():
            raise ProjectError(f"{where}: {place}: a block name must start with a letter and "
                               f"use letters, digits, spaces, '-' or '_' (at most 64)")
        _check_graph(d, where, ports, place, outputs)
        for i, n in enumerate(d["nodes"]):
            if n["type"] in ("Input", "Output"):
                raise ProjectError(f"{where}: {place}.nodes[{i}] (node {n['id']!r} "
                                   f"{n['name']!r}): a block definition takes values through "
                                   f"BlockInput/BlockOutput ports, not {n['type']} nodes")
        uses[name] = [n["params"].get("block") for n in d["nodes"] if n["type"] == "Block"]
    for name in blocks:  # depth-first search for a definition that contains itself
        stack = [(name, [name])]
        while stack:
            cur, path = stack.pop()
            for m in uses.get(cur, []):
                if m == name:
                    loop = " › ".join(path + [m])
                    raise ProjectError(f"{where}: graph.blocks[{name!r}]: block {name!r} "
                                       f"contains itself ({loop}); blocks cannot nest "
                                       f"recursively")
                if m in uses and m not in path:
                    stack.append((m, path + [m]))


def _check_graph(g: dict, where: str, block_ports: dict | None = None,
                 place: str = "graph", block_outputs: dict | None = None) -> None:
    """What pydantic cannot know: layer types, their parameters and ports, wiring."""
    block_ports, block_outputs = block_ports or {}, block_outputs or {}
    ids: dict[str, dict] = {}
    for i, n in enumerate(g["nodes"]):
        label = f"{place}.nodes[{i}] (node {n['id']!r} {n['name']!r})"
        if n["id"] in ids:
            raise ProjectError(f"{where}: {label}: node id {n['id']!r} is used twice")
        ids[n["id"]] = n
        try:
            spec = registry.get(n["type"])
        except registry.RegistryError as e:
            raise ProjectError(f"{where}: {label}: {e}") from None
        for pname, value in n["params"].items():
            p = spec.param(pname)
            if p is None:
                known = ", ".join(x.name for x in spec.params) or "none"
                raise ProjectError(f"{where}: {label}: {spec.type} has no parameter "
                                   f"{pname!r} (known: {known})")
            msg = p.check(value, bounds=False)
            if msg:
                raise ProjectError(f"{where}: {label}.params.{pname}: {msg}")
            if isinstance(value, float) and not math.isfinite(value):
                raise ProjectError(f"{where}: {label}.params.{pname}: must be finite")
        if n["type"] == "Block" and n["params"].get("block") not in block_ports:
            known = ", ".join(repr(b) for b in block_ports) or "none"
            raise ProjectError(f"{where}: {label}: uses block {n['params'].get('block')!r}, "
                               f"which is not defined in graph.blocks (defined: {known})")
    taken: set[tuple[str, str]] = set()
    for i, e in enumerate(g["edges"]):
        label = f"{place}.edges[{i}] ({e['src']} -> {e['dst']})"
        for end in ("src", "dst"):
            if e[end] not in ids:
                raise ProjectError(f"{where}: {label}: refers to node {e[end]!r}, which does "
                                   f"not exist (a dangling edge)")
        s, d = ids[e["src"]], ids[e["dst"]]
        s_spec, d_spec = registry.get(s["type"]), registry.get(d["type"])
        outputs = (block_outputs.get(s["params"]["block"], ("out",)) if s["type"] == "Block"
                   else s_spec.outputs)
        if e["src_port"] not in outputs:
            raise ProjectError(f"{where}: {label}: {s['type']} has no output port "
                               f"{e['src_port']!r} (it has: {', '.join(outputs)})")
        ports = (block_ports[d["params"]["block"]] if d["type"] == "Block"
                 else d_spec.input_ports(d["params"]))
        if e["dst_port"] not in ports:
            raise ProjectError(f"{where}: {label}: {d['type']} has no input port "
                               f"{e['dst_port']!r} (it has: {', '.join(ports) or 'none'})")
        if (e["dst"], e["dst_port"]) in taken:
            raise ProjectError(f"{where}: {label}: input {e['dst_port']!r} of node "
                               f"{e['dst']!r} has two wires; an input takes one")
        taken.add((e["dst"], e["dst_port"]))
