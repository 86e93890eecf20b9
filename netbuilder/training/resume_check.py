"""What a checkpoint was made from, so that resuming checks it resumes the same run.

A checkpoint records a fingerprint of its project: the graph (node types, parameters and
wiring; not positions or descriptions), the data (dataset, its options and the seed that
splits it) and the optimizer and schedule. Resuming compares the checkpoint's project
(stored whole in project.json) with the one being trained and names the first difference.
Epochs, learning rate and the other hyperparameters may change between sessions.
"""
from __future__ import annotations

import hashlib
import json

from ..core.project import Project


def _graph_part(graph: dict) -> dict:
    nodes = sorted(({"id": n.get("id"), "type": n.get("type"), "params": n.get("params", {})}
                    for n in graph.get("nodes", [])), key=lambda n: str(n["id"]))
    edges = sorted((e.get("src"), e.get("src_port", "out"), e.get("dst"),
                    e.get("dst_port", "in")) for e in graph.get("edges", []))
    return {"nodes": nodes, "edges": [list(e) for e in edges]}


def _data_part(doc: dict) -> dict:
    ds = doc.get("dataset") or {}
    options = dict(ds.get("options") or {})
    name = ds.get("name")
    try:  # compare with the defaults filled in: an unset option equals its default
        from ..data.registry import get

        options = get(name).fill(options)
    except Exception:  # noqa: BLE001 - an unknown dataset is compared as written
        pass
    return {"name": name, "options": options, "seed": (doc.get("training") or {}).get("seed")}


def _optim_part(doc: dict) -> dict:
    t = doc.get("training") or {}
    return {"optimizer": t.get("optimizer"), "schedule": t.get("schedule")}


def _hash(obj) -> str:
    text = json.dumps(obj, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def fingerprint(project: Project) -> dict:
    doc = project.to_dict()
    return {"graph": _hash(_graph_part(doc["graph"])), "data": _hash(_data_part(doc)),
            "optimizer": _optim_part(doc)}


def _node_label(n: dict) -> str:
    return f"{n.get('name') or n.get('id')!r} ({n.get('type')})"


def graph_difference(old: dict, new: dict) -> str | None:
    by_old = {n.get("id"): n for n in old.get("nodes", [])}
    by_new = {n.get("id"): n for n in new.get("nodes", [])}
    added = [by_new[i] for i in by_new if i not in by_old]
    removed = [by_old[i] for i in by_old if i not in by_new]
    if added:
        return f"this project has node {_node_label(added[0])}, the checkpoint's has not"
    if removed:
        return f"the checkpoint's project has node {_node_label(removed[0])}, this one has not"
    for i, n in by_new.items():
        o = by_old[i]
        if o.get("type") != n.get("type"):
            return (f"node {_node_label(n)} is a {o.get('type')} in the checkpoint's "
                    f"project")
        po, pn = o.get("params", {}), n.get("params", {})
        for k in sorted(set(po) | set(pn)):
            if po.get(k) != pn.get(k):
                return (f"node {_node_label(n)} has {k}={pn.get(k)!r} here but "
                        f"{k}={po.get(k)!r} in the checkpoint's project")
    a, b = _graph_part(old)["edges"], _graph_part(new)["edges"]
    if a != b:
        extra = [e for e in b if e not in a] or [e for e in a if e not in b]
        e = extra[0]
        return f"the wiring differs (the connection {e[0]} -> {e[2]})"
    return None


def difference(checkpoint_project: str, project: Project) -> str | None:
    """The first way `project` differs from the project stored in a checkpoint, as a
    phrase (None when it is the same run, hyperparameters aside)."""
    try:
        old = json.loads(checkpoint_project)
    except ValueError:
        return "the checkpoint's project.json is not valid JSON"
    if not isinstance(old, dict):
        return "the checkpoint's project.json is not a project"
    new = project.to_dict()
    d = graph_difference(old.get("graph") or {}, new["graph"])
    if d:
        return f"the graph differs: {d}"
    do, dn = _data_part(old), _data_part(new)
    if do["name"] != dn["name"]:
        return f"the checkpoint was trained on dataset {do['name']!r}, this project uses " \
               f"{dn['name']!r}"
    for k in sorted(set(do["options"]) | set(dn["options"])):
        if do["options"].get(k) != dn["options"].get(k):
            return (f"the dataset option {k} is {dn['options'].get(k)!r} here but "
                    f"{do['options'].get(k)!r} in the checkpoint's project")
    if do["seed"] != dn["seed"]:
        return (f"the seed is {dn['seed']} here but {do['seed']} in the checkpoint's "
                f"project (the seed decides the data split)")
    return None


def optimizer_difference(checkpoint_project: str, project: Project) -> str | None:
    try:
        old = _optim_part(json.loads(checkpoint_project))
    except (ValueError, AttributeError):
        return None
    new = _optim_part(project.to_dict())
    for k in ("optimizer", "schedule"):
        if old.get(k) != new.get(k):
            return f"the {k} is {new[k]!r} here but {old[k]!r} in the checkpoint"
    return None
