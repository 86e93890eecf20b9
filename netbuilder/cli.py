"""The `netbuilder` command line. Bad input exits 1 with a message, never a traceback."""
from __future__ import annotations

import argparse
import sys

from .core.allowlist import CodeRefused
from .core.project import ProjectError


class CliError(Exception):
    pass


def _fmt_int(n: int) -> str:
    return f"{n:,}"


def _fmt_flops(n: int) -> str:
    for unit, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= size:
            return f"{n / size:.2f}{unit}"
    return str(n)


def cmd_examples(args) -> int:
    from . import examples

    width = max(len(n) for n in examples.names())
    for name in examples.names():
        print(f"{name:<{width}}  {examples.describe(name)}")
    return 0


def cmd_validate(args) -> int:
    from .api import ERROR, open_project, validate

    project = open_project(args.project)
    problems = validate(project)
    errs = [p for p in problems if p.severity == ERROR]
    for p in problems:
        node = project.graph.nodes.get(p.node_id) if p.node_id else None
        where = f" [node {node.id}]" if node else ""
        print(f"{p.severity}: {p.message}{where}")
    n = len(project.graph.nodes)
    memory = _memory_warning(project)
    if errs:
        print(f"{args.project}: invalid ({len(errs)} error(s), "
              f"{len(problems) - len(errs)} warning(s))", file=sys.stderr)
        return 1
    print(f"{args.project}: valid ({n} nodes, {len(problems) + bool(memory)} warning(s))")
    return 0


def _depth(text: str):
    if text == "all":
        return None
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1 or 'all', "
                                         f"not {text!r}")
    return n


def _memory_warning(project) -> str | None:
    """Shapes come from the meta device, so a giant graph is inspected without allocating;
    say now that train and export will refuse it."""
    from .core.budget import OPTIMIZER_STATES, memory_problem

    s = project.training
    msg = memory_problem(project.graph, s.batch_size, 2 + OPTIMIZER_STATES[s.optimizer],
                         copies_note="weights, gradients, optimizer state")
    if msg:
        print(f"warning: training it {msg}; train and export refuse it on this machine")
    return msg


def cmd_summary(args) -> int:
    from .api import ERROR, open_project, summary, validate

    project = open_project(args.project)
    rows = summary(project, depth=args.depth)
    table = [("node", "type", "output", "params", "FLOPs")]
    table += [(r.name, r.type, r.output, _fmt_int(r.params), _fmt_flops(r.flops))
              for r in rows]
    total_p, total_f = sum(r.params for r in rows), sum(r.flops for r in rows)
    table.append(("total", "", "", _fmt_int(total_p), _fmt_flops(total_f)))
    widths = [max(len(row[i]) for row in table) for i in range(5)]
    for i, row in enumerate(table):
        if i == len(table) - 1:
            print("  ".join("-" * w for w in widths))
        cells = [c.ljust(w) if j < 3 else c.rjust(w) for j, (c, w) in enumerate(zip(row, widths))]
        print("  ".join(cells).rstrip())
        if i == 0:
            print("  ".join("-" * w for w in widths))
    print(f"parameters: {total_p}")
    from .core.tuning import parameter_split
    trainable, frozen = parameter_split(project.graph)
    print(f"trainable parameters: {trainable}\nfrozen parameters: {frozen}")
    print("FLOPs are per sample, forward pass.")
    _memory_warning(project)
    errs = [p for p in validate(project) if p.severity == ERROR]
    for p in errs:
        print(f"error: {p.message}", file=sys.stderr)
    return 1 if errs else 0


def cmd_gui(args) -> int:
    try:
        from .ui.app import run
    except ImportError as e:
        raise CliError(f"the editor cannot start: {e}") from None
    return run(args.project, screenshot=getattr(args, "screenshot", None),
               size=parse_size(args.size) if getattr(args, "size", None) else None)


def parse_size(text: str) -> tuple[int, int]:
    """'1366x768' -> (1366, 768), for `gui --size`."""
    w, sep, h = text.lower().replace("×", "x").partition("x")
    if sep and w.strip().isdigit() and h.strip().isdigit():
        size = int(w), int(h)
        if 320 <= size[0] <= 16384 and 240 <= size[1] <= 16384:
            return size
    raise CliError(f"--size {text!r}: give the window's width x height in pixels, e.g. "
                   f"--size 1366x768 (each between 320x240 and 16384)")


def cmd_train(args) -> int:
    from .training.cli import train

    return train(args)


def cmd_export(args) -> int:
    from .export.cli import run_export

    return run_export(args)


def cmd_import(args) -> int:
    from .importers.cli import run_import

    return run_import(args)


def environment_error(e: BaseException) -> str:
    """A full disk, a missing permission, a missing file or too little memory, as a
    sentence naming the path (these are not netbuilder's bugs)."""
    import errno

    from .core.files import DiskError, explain

    if isinstance(e, MemoryError):
        return "not enough memory for this; close other programs or use a smaller model"
    if isinstance(e, DiskError):
        return str(e)
    path = e.filename or "a file"
    if e.errno in (errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EPERM, errno.EROFS,
                   errno.ENOTDIR, errno.EISDIR):
        return explain(e, path)
    if isinstance(e, FileNotFoundError):
        return f"{path}: no such file or folder"
    return f"{path}: {e.strerror or e}"


def _trust_flag(s) -> None:
    s.add_argument("--trust", action="append", metavar="PACKAGE",
                   help="let the project's generic nodes name this package's nn.Module "
                   "classes and functions (the same allowlist rule as torch; never Python's "
                   "own modules)")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="netbuilder", description="Design neural networks "
                                "visually; validate, summarise and compile them.")
    sub = p.add_subparsers(dest="command")
    s = sub.add_parser("examples", help="list the shipped example projects")
    s.set_defaults(func=cmd_examples)
    s = sub.add_parser("validate", help="list a project's problems (exit 0 when valid)")
    s.add_argument("project", help="a project file or the name of an example")
    _trust_flag(s)
    s.set_defaults(func=cmd_validate)
    s = sub.add_parser("summary", help="table of output shapes, parameters and FLOPs")
    s.add_argument("project", help="a project file or the name of an example")
    s.add_argument("--depth", type=_depth, default=1, metavar="N|all",
                   help="block levels to expand (1 = one row per top-level node, the "
                        "default; all = one row per layer); totals are over every layer")
    _trust_flag(s)
    s.set_defaults(func=cmd_summary)
    s = sub.add_parser("train", help="train a project on its dataset, without the GUI")
    s.add_argument("project", help="a project file or the name of an example")
    s.add_argument("--epochs", type=int, metavar="N", help="train N epochs in total")
    s.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"))
    s.add_argument("--out", metavar="DIR", help="checkpoints and metrics (default runs/NAME)")
    s.add_argument("--resume", metavar="CKPT", help="continue from a checkpoint folder")
    s.add_argument("--init", metavar="CKPT", help="start from these weights: a checkpoint "
                   "folder, .safetensors or PyTorch state_dict file (matching tensors only)")
    s.add_argument("--freeze", metavar="NAME[,NAME...]", help="freeze these nodes or blocks "
                   "for this run (no gradient, not optimized, BatchNorm statistics kept)")
    _trust_flag(s)
    s.set_defaults(func=cmd_train)
    s = sub.add_parser("gui", help="open the editor")
    s.add_argument("project", nargs="?", help="a project file or the name of an example")
    s.add_argument("--screenshot", metavar="PNG", help="render the window to PNG and exit")
    _trust_flag(s)
    s.add_argument("--size", metavar="WxH", help="open the window at this size, e.g. 1366x768 "
                   "(default: 90%% of the screen; 1366x768 for --screenshot)")
    s.set_defaults(func=cmd_gui)
    s = sub.add_parser("export", help="export a project, verified (TorchScript, ONNX, "
                       "torch.export, safetensors, PyTorch source)")
    s.add_argument("project", help="a project file or the name of an example")
    s.add_argument("--format", required=True,
                   choices=("torchscript", "onnx", "pt2", "python", "safetensors"))
    s.add_argument("-o", "--output", required=True,
                   help="file to write (a folder for --format python)")
    s.add_argument("--weights", help="checkpoint folder or .safetensors file (default: "
                   "fresh weights)")
    _trust_flag(s)
    s.set_defaults(func=cmd_export)
    s = sub.add_parser("import", help="turn an existing PyTorch model into a project")
    s.add_argument("source", help="torchvision:NAME or package.module:ClassOrFactory")
    s.add_argument("-o", "--output", required=True,
                   help="FILE.json (weights go to FILE.safetensors) or a checkpoint folder")
    s.add_argument("--input-shape", action="append", metavar="SHAPE",
                   help="one sample without the batch, e.g. 3,224,224 or 16:int64 (once per "
                   "input; torchvision default 3,224,224)")
    s.add_argument("--kwargs", help="JSON keyword arguments for the class or factory")
    s.add_argument("--name", help="project name")
    s.add_argument("--pretrained", action="store_true", help="torchvision's pretrained "
                   "weights, from torch's cache (their preprocessing becomes the dataset "
                   "options)")
    s.add_argument("--download", action="store_true", help="with --pretrained: download "
                   "the weights into torch's cache when they are not there")
    s.set_defaults(func=cmd_import)
    from .insight.cli import add_parser as add_trace  # `trace`: one sample, step by step
    add_trace(sub)
    from .preflight.cli import add_commands as add_preflight  # fit, lr-find, check
    add_preflight(sub)
    from .experiments.cli import add_commands as add_experiment_commands  # sweep, diff
    add_experiment_commands(sub)
    return p


def _subcommands(parser: argparse.ArgumentParser) -> set[str]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return set(action.choices)
    return set()


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    commands = {*_subcommands(parser), "-h", "--help"}
    if not argv or argv[0] not in commands:  # `netbuilder` / `netbuilder FILE` open the editor
        argv = ["gui", *argv]
    args = parser.parse_args(argv)
    try:
        if getattr(args, "trust", None):
            from .core.allowlist import trust_packages
            trust_packages(*args.trust)
        return args.func(args)
    except (ProjectError, CliError, CodeRefused) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `netbuilder examples | head`: the reader left, not an error
        import os
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (OSError, MemoryError) as e:  # the environment's, not a bug: say what and where
        print(f"error: {environment_error(e)}", file=sys.stderr)
        return 1
    except Exception as e:  # a bug in netbuilder; still no traceback for the user
        print(f"error: netbuilder failed unexpectedly: {type(e).__name__}: {e}\n"
              f"(please report this; set NETBUILDER_DEBUG=1 for details)", file=sys.stderr)
        import os
        if os.environ.get("NETBUILDER_DEBUG"):
            raise
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
