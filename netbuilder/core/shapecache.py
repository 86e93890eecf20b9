"""The shape-inference cache on disk, so a relaunched window shows shapes before torch loads.

`import torch` alone takes 1.5-4 s; the node cards need only the results of earlier
evaluations (type, params, input shapes -> output shape, parameters, FLOPs), which are
plain data. The window saves them when it has counted the FLOPs and when it closes, and
loads them at start-up; `cached_infos` then answers without torch.

The file is JSON, read with size and type checks and never executed. It is tied to a
fingerprint of the netbuilder core's source and the torch version, so a changed layer
definition or torch never reuses old results. Generic layers (code from other packages)
are not stored.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

from . import shapes
from .graph import Graph
from .shapes import BLOCKED, NodeInfo, TensorInfo, topo_order

FORMAT = "netbuilder-shape-cache-1"
MAX_BYTES = 32 * 2**20


def fingerprint() -> str:
    from importlib.metadata import PackageNotFoundError, version

    from .. import __version__

    h = hashlib.sha256(f"{FORMAT} {__version__}".encode())
    try:
        h.update(version("torch").encode())
    except PackageNotFoundError:
        h.update(b"no torch")
    for f in sorted(Path(__file__).parent.glob("*.py")):
        h.update(f.name.encode())
        h.update(f.read_bytes())
    return h.hexdigest()


def _shape(t: TensorInfo) -> list:
    return [list(t.shape), t.dtype]


def save(path: str | os.PathLike) -> int:
    """Write the in-memory cache (complete, non-generic results); returns the entry
    count. Atomic: a temporary file renamed over the old one."""
    rows = []
    for key, info in shapes._CACHE.items():
        if len(key) != 3:  # a block instance's entry: its layers' entries are stored
            continue
        type_, params, inputs = key
        if info.flops_pending or _generic(type_):
            continue
        rows.append([type_, params, [_shape(i) for i in inputs],
                     _shape(info.output) if info.output else None, info.params, info.flops,
                     info.error])
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".shapes.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump({"format": FORMAT, "fingerprint": fingerprint(), "entries": rows}, f)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return len(rows)


def _generic(type_: str) -> bool:
    from . import registry

    try:
        return registry.get(type_).category == "Generic"
    except registry.RegistryError:
        return True


def _tensor(v) -> TensorInfo:
    shape, dtype = v
    if not (isinstance(shape, list) and shape and shape[0] is None and dtype in shapes.DTYPES
            and all(isinstance(d, int) and not isinstance(d, bool) and d > 0
                    for d in shape[1:])):
        raise ValueError("bad tensor")
    return TensorInfo(tuple(shape), dtype)


def load(path: str | os.PathLike) -> int:
    """Add a saved cache to the in-memory one; returns the entries read. A missing,
    foreign, damaged or outdated file is ignored (0): the cache only saves time."""
    path = Path(path)
    try:
        if path.stat().st_size > MAX_BYTES:
            return 0
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or data.get("format") != FORMAT \
                or data.get("fingerprint") != fingerprint():
            return 0
        loaded = {}
        for type_, params, inputs, out, nparams, flops, error in data["entries"]:
            if not (isinstance(type_, str) and isinstance(params, str)
                    and isinstance(nparams, int) and isinstance(flops, int)
                    and (error is None or isinstance(error, str))):
                return 0
            key = (type_, params, tuple(_tensor(i) for i in inputs))
            loaded[key] = NodeInfo(_tensor(out) if out is not None else None, nparams, flops,
                                   error)
    except (OSError, ValueError, TypeError, KeyError):  # JSONDecodeError is a ValueError
        return 0
    for key, info in loaded.items():
        shapes._CACHE.setdefault(key, info)
    return len(loaded)


def cached_infos(graph: Graph) -> dict[str, NodeInfo] | None:
    """Every node's info from the cache alone (no torch), as ShapeInference would give it;
    None when any node would need an evaluation."""
    order, stuck = topo_order(graph)
    into: dict[str, dict[str, str]] = {nid: {} for nid in graph.nodes}
    for e in graph.edges:
        into[e.dst][e.dst_port] = e.src
    infos: dict[str, NodeInfo] = {}
    for nid in order:
        node = graph.nodes[nid]
        spec = node.spec
        if spec.check_params(node.params):
            infos[nid] = BLOCKED
            continue
        inputs = []
        for port in spec.input_ports(node.params):
            src = into[nid].get(port)
            info = infos.get(src) if src else None
            if info is None or info.output is None:
                break
            inputs.append(info.output)
        else:
            if "input" in spec.tags:  # needs no torch: ShapeInference would evaluate it
                infos[nid] = shapes.evaluate(node, ())
                continue
            hit = shapes._CACHE.get(shapes._key(node, tuple(inputs)))
            if hit is None or hit.flops_pending:
                return None
            infos[nid] = hit
            continue
        infos[nid] = BLOCKED
    for nid in stuck:
        infos[nid] = NodeInfo(blocked=True, error=None)
    return infos
