"""`netbuilder fit`, `netbuilder lr-find` and `netbuilder check --overfit-batch`."""
from __future__ import annotations

import sys
from pathlib import Path

PRECISIONS = ("fp32", "bf16", "fp16")  # step.PRECISIONS' keys (that module imports torch)


def add_commands(sub) -> None:
    """The three pre-flight subcommands (cli.build_parser calls this)."""
    s = sub.add_parser("fit", help="estimate a training step's peak memory, the largest "
                       "batch that fits and the time per step and epoch")
    s.add_argument("project", help="a project file or the name of an example")
    s.add_argument("--device", default="cpu", metavar="cpu|cuda|mps|NAME",
                   help="where it would train: cpu (this machine), cuda, mps or a known GPU "
                   "(T4, L4, A10, A100, H100, H200, RTX 3060, RTX 4090, M1, M2, M3, M3 Max)")
    s.add_argument("--batch-size", type=int, metavar="N", help="default: the project's")
    s.add_argument("--memory", type=float, metavar="GIB",
                   help="the memory to fit in (default: the device's)")
    s.add_argument("--precision", choices=PRECISIONS, default="fp32")
    s.set_defaults(func=cmd_fit)
    s = sub.add_parser("lr-find", help="learning-rate range test: suggest a learning rate "
                       "and plot the loss against it (PNG)")
    s.add_argument("project", help="a project file or the name of an example")
    s.add_argument("--device", default="cpu", choices=("cpu", "cuda", "mps"))
    s.add_argument("--plot", metavar="PNG", help="where to write the plot (default "
                   "NAME-lr-find.png)")
    s.set_defaults(func=cmd_lr_find)
    s = sub.add_parser("check", help="pre-flight checks; --overfit-batch: can the network "
                       "learn one batch by heart (exit 0 when it can)")
    s.add_argument("project", help="a project file or the name of an example")
    s.add_argument("--overfit-batch", action="store_true", required=True,
                   help="train on one batch and pass when the loss collapses")
    s.add_argument("--device", default="cpu", choices=("cpu", "cuda", "mps"))
    s.set_defaults(func=cmd_check)


def _setup(args, device: str = "cpu"):
    from ..examples import resolve
    from .step import prepare

    project = resolve(args.project)
    return project, prepare(project, device)


def _stem(spec: str) -> str:
    return Path(spec).stem if spec.endswith(".json") else Path(spec).name


def _fail(spec: str, e: Exception) -> int:
    text = str(e)
    print(f"error: {text if text.startswith(spec) else f'{spec}: {text}'}", file=sys.stderr)
    return 1


def cmd_fit(args) -> int:
    from . import devices
    from .step import PreflightError
    from .report import fit_report, fit_text

    if args.batch_size is not None and not 1 <= args.batch_size <= 65536:
        return _fail(args.project, ValueError("--batch-size must be between 1 and 65536"))
    if args.memory is not None and not args.memory > 0:
        return _fail(args.project, ValueError("--memory must be a positive number of GiB"))
    try:
        device = devices.resolve(args.device)
        project, setup = _setup(args)
        report = fit_report(setup, device, args.batch_size, args.precision,
                            None if args.memory is None else int(args.memory * 2**30))
    except (PreflightError, ValueError) as e:
        return _fail(args.project, e)
    print(fit_text(report))
    if args.device.lower() == "cuda":  # a bounded trial on the real GPU confirms it
        from .memory import measure_on_cuda, mib
        peak = measure_on_cuda(setup, report.estimate.batch_size, args.precision)
        print(f"measured on {device.name}: {mib(peak)} (torch.cuda.max_memory_allocated, "
              f"estimate / measured {report.estimate.total / max(1, peak):.2f})")
    return 0


def cmd_lr_find(args) -> int:
    from .lr_find import lr_find, save_plot
    from .step import PreflightError

    try:
        project, setup = _setup(args, args.device)
        result = lr_find(setup, device=args.device)
    except (PreflightError, ValueError) as e:
        return _fail(args.project, e)
    plot = Path(args.plot) if args.plot else Path(f"{_stem(args.project)}-lr-find.png")
    save_plot(result, plot, f"{project.name or _stem(args.project)}: learning-rate range test")
    print(f"tried {len(result.lrs)} learning rates from {result.lrs[0]:.1e} to "
          f"{result.lrs[-1]:.1e}; lowest smoothed loss at {result.minimum:.2g}")
    print(f"suggested learning rate: {result.suggestion:.3g} (rule: {result.rule})")
    print(f"plot: {plot}")
    return 0


def cmd_check(args) -> int:
    from .overfit import overfit_batch
    from .step import PreflightError

    try:
        _, setup = _setup(args, args.device)
        result = overfit_batch(setup, device=args.device)
    except (PreflightError, ValueError) as e:
        return _fail(args.project, e)
    print(f"overfit one batch: {result.message}")
    return 0 if result.passed else 1
