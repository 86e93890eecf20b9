"""`netbuilder trace PROJECT (--input v1,v2,… | --sample N) [--target t1,…] [--loss NAME]
[--weights FILE] [--json]`: one sample forward node by node, the loss, the gradients back,
and one optimizer step."""
from __future__ import annotations

import json
import sys

from .names import parse_numbers

# numpy and torch are imported when the command runs: `netbuilder --help` stays quick

SHOWN = 8  # values per tensor in the text report


def add_parser(sub) -> None:
    s = sub.add_parser("trace", help="one sample through the network: every node's output, "
                       "the loss, every gradient and one optimizer step")
    s.add_argument("project", help="a project file or the name of an example")
    what = s.add_mutually_exclusive_group(required=True)
    what.add_argument("--input", metavar="V1,V2,…", help="the Input node's values, flat, "
                      "comma-separated (as the Input takes them: not normalized)")
    what.add_argument("--sample", type=int, metavar="N", help="test sample N of the project's "
                      "dataset (its label is the target)")
    s.add_argument("--target", metavar="T1,…", help="a class id, or the output's values "
                   "(needed with --input)")
    s.add_argument("--loss", metavar="NAME", help="another loss than the project's")
    s.add_argument("--weights", metavar="FILE", help="checkpoint folder or .safetensors "
                   "file (default: fresh weights from the project's seed)")
    s.add_argument("--json", action="store_true", help="print everything as JSON")
    s.set_defaults(func=run_trace)


def _load_data(project, needed: bool):
    from ..data import DataError, load
    from .names import InsightError

    ds = project.dataset
    if ds is None:
        return None
    try:
        return load(ds.name, ds.options, seed=project.training.seed)
    except DataError as e:
        if needed:
            raise InsightError(f"dataset {ds.name!r}: {e}") from None
        return None


def build_trace(project, args):
    """(stepper, trace, step) for the command line's choices."""
    from .names import InsightError
    from .stepper import Stepper

    data = _load_data(project, needed=args.sample is not None)
    stepper = Stepper(project, weights=args.weights, loss=args.loss, data=data)
    if args.sample is not None:
        x, y = stepper.sample(args.sample)
        if args.target is not None:
            y = stepper.target_from_values(parse_numbers(args.target, "--target"))
    else:
        if args.target is None:
            raise InsightError("--input needs --target (a class id or the output's values): "
                               "the loss compares the output with it")
        x = stepper.input_from_values(parse_numbers(args.input, "--input"))
        y = stepper.target_from_values(parse_numbers(args.target, "--target"))
    trace = stepper.trace(x, y)
    return stepper, trace, stepper.step()


def as_json(stepper, trace, step) -> dict:
    import numpy as np

    def plain(a):  # strict JSON: a non-finite value (an overflowing network) is null
        if a is None:
            return None
        arr = np.asarray(a, dtype=np.float64)
        return arr.tolist() if np.isfinite(arr).all() else \
            np.where(np.isfinite(arr), arr, None).tolist()

    nodes = []
    for r in trace.records:
        node = {"name": r.name, "type": r.type, "place": r.place,
                "shape": list(trace.output_of(r).shape), "output": plain(trace.output_of(r)),
                "grad": plain(trace.grad_of(r))}
        outs, grads = trace.port_outputs(r), trace.port_grads(r)
        if len(outs) > 1:  # a block with several outputs: each port's own (the first above)
            node["ports"] = {port: {"shape": list(v.shape), "output": plain(v),
                                    "grad": plain(grads[port])} for port, v in outs.items()}
        nodes.append(node)
    params = {}
    for key, value in trace.params.items():
        grad = trace.grads.get(key)
        delta = step.deltas.get(key)
        params[key] = {"value": plain(value.numpy()),
                       "grad": plain(grad.numpy()) if grad is not None else None,
                       "update": plain(delta.numpy()) if delta is not None else None}
    s = stepper.settings
    return {"project": stepper.project.name, "input": plain(trace.x.detach()[0].numpy()),
            "target": plain(trace.target[0].numpy()), "loss_name": s.loss,
            "loss": plain(trace.loss),
            "output": plain(trace.output[0].numpy()), "nodes": nodes, "params": params,
            "optimizer": {"name": s.optimizer, "lr": s.lr, "rule": step.rule},
            "loss_after_step": plain(step.loss_after)}


def _short(a) -> str:
    import numpy as np

    if a is None:
        return "—"
    flat = np.asarray(a).reshape(-1)
    text = ", ".join(f"{v:.4g}" for v in flat[:SHOWN])
    return f"[{text}{', …' if flat.size > SHOWN else ''}]"


def print_text(stepper, trace, step, out=None) -> None:
    out = out or sys.stdout
    w = max(len(r.name) for r in trace.records)
    print("forward (each node's output), then backward (d loss / d output):", file=out)
    for r in trace.records:
        outs, grads = trace.port_outputs(r), trace.port_grads(r)
        for i, (port, v) in enumerate(outs.items()):  # a line pair per output port
            shape = "×".join(str(d) for d in v.shape) or "scalar"
            if len(outs) > 1:
                shape = f"{port} {shape}"
            name, kind = (r.name, r.type) if i == 0 else ("", "")
            print(f"  {name:<{w}}  {kind:<12} {shape:<10} out {_short(v)}", file=out)
            print(f"  {'':<{w}}  {'':<12} {'':<10} grad {_short(grads[port])}", file=out)
    print(f"loss ({stepper.settings.loss}): {trace.loss:.6g}", file=out)
    print(f"one step — {step.rule}:", file=out)
    kw = max((len(k) for k in step.deltas), default=0)
    for key, d in step.deltas.items():
        g = trace.grads.get(key)
        print(f"  {key:<{kw}}  |∇W| {float(g.norm()) if g is not None else 0:.4g}  "
              f"|ΔW| {float(d.norm()):.4g}  ΔW {_short(d.numpy())}", file=out)
    if step.loss_after is not None:
        print(f"loss after the step: {step.loss_after:.6g}", file=out)


def run_trace(args) -> int:
    from ..examples import resolve
    from .names import InsightError

    project = resolve(args.project)  # a bad file: ProjectError, reported by cli.main
    try:
        stepper, trace, step = build_trace(project, args)
    except InsightError as e:
        print(f"error: {args.project}: {e}", file=sys.stderr)
        return 1
    if args.json:
        json.dump(as_json(stepper, trace, step), sys.stdout, allow_nan=False)
        print()
    else:
        print_text(stepper, trace, step)
    return 0
