"""`netbuilder train`: headless training with a progress line, final test metrics,
checkpoints and metrics.csv in the output folder. Ctrl-C stops after the current batch and
saves a checkpoint; a second Ctrl-C aborts at once."""
from __future__ import annotations

import sys
import time
from pathlib import Path

from ..core.project import ProjectError
from ..data import DataError
from ..data.resources import ConsoleProgress
from .checkpoint import CheckpointError
from .config import TrainingConfigError
from .events import BatchEnd, EpochEnd, Started
from .interrupts import CtrlC

REFRESH_S = 0.1  # progress-line redraws on a terminal


def _fmt_time(s: float) -> str:
    s = int(max(0, s))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


def _fmt_metrics(m: dict) -> str:
    parts = [f"loss {m['loss']:.4g}"] if "loss" in m else []
    if "accuracy" in m:
        parts.append(f"acc {100 * m['accuracy']:.2f}%")
    for k in ("mse", "mae", "r2"):
        if k in m and not (k == "mse" and "loss" in m and m["loss"] == m["mse"]):
            parts.append(f"{k} {m[k]:.4g}")
    return "  ".join(parts)


class Progress:
    """Draws one self-updating line on a terminal; one line per epoch otherwise."""

    def __init__(self, stream=None):
        self.stream = stream = stream or sys.stderr  # looked up now: tests swap sys.stderr
        self.tty = stream.isatty()
        self.last_draw, self.start = 0.0, None
        self.batch_size = 1

    def __call__(self, ev) -> None:
        if isinstance(ev, Started):
            self.started = ev
            print(f"training {ev.train_samples} samples (validation {ev.val_samples}, test "
                  f"{ev.test_samples}) on {ev.device}, {ev.threads} thread(s), "
                  f"{ev.parameters:,} parameters", file=self.stream)
        elif isinstance(ev, BatchEnd) and self.tty:
            now = time.perf_counter()
            if now - self.last_draw < REFRESH_S and ev.batch + 1 < ev.batches:
                return
            self.last_draw = now
            left = (self.started.epochs - ev.epoch - 1) * ev.batches + ev.batches - ev.batch - 1
            per_batch = self.started.train_samples / max(1, ev.batches)
            eta = left * per_batch / max(1e-9, ev.samples_per_s)
            acc = f"  acc {100 * ev.accuracy:5.1f}%" if ev.accuracy is not None else ""
            line = (f"epoch {ev.epoch + 1}/{self.started.epochs}  batch {ev.batch + 1}/"
                    f"{ev.batches}  loss {ev.loss:.4g}{acc}  {ev.samples_per_s:,.0f} samples/s"
                    f"  ETA {_fmt_time(eta)}")
            self.stream.write("\r" + line.ljust(100)[:100])
            self.stream.flush()
        elif isinstance(ev, EpochEnd):
            val = f"  |  val {_fmt_metrics(ev.val)}" if ev.val else ""
            line = (f"epoch {ev.epoch + 1}/{ev.epochs}  train {_fmt_metrics(ev.train)}{val}  "
                    f"{ev.samples_per_s:,.0f} samples/s")
            self.stream.write(("\r" + " " * 100 + "\r" if self.tty else "") + line + "\n")
            self.stream.flush()


def _print_test(test: dict, class_names) -> None:
    print(f"test: {_fmt_metrics(test)}")
    if "confusion" in test and len(class_names) <= 20:
        width = max(9, *(len(str(c)) for c in class_names))
        print(f"  {'class':<{width}}  precision  recall")
        for name, p, r in zip(class_names, test["precision"], test["recall"]):
            print(f"  {str(name):<{width}}  {100 * p:8.1f}%  {100 * r:5.1f}%")


def train(args) -> int:
    from ..examples import resolve
    from .trainer import Trainer

    try:
        project = tuned_for_run(resolve(args.project), args)
        stem = Path(args.project).stem if args.project.endswith(".json") else args.project
        out = Path(args.out) if args.out else Path("runs") / stem
        loading = ConsoleProgress()
        trainer = Trainer(project, out_dir=out, epochs=args.epochs, device=args.device,
                          callbacks=[Progress()], data_progress=loading)
        plan = trainer.prepare()
        loading.done()
        for n in getattr(trainer.data.info, "notes", ()):
            print(f"note: {n}", file=sys.stderr)
        for w in plan.warnings:
            print(f"warning: {w}", file=sys.stderr)
        if project.training.init_weights and not args.resume:
            print(initial_report(project), file=sys.stderr)
        with _ctrl_c_stops(trainer):
            result = trainer.run(resume_from=args.resume)
    except (ProjectError, DataError, TrainingConfigError, CheckpointError) as e:
        print(f"error: {args.project}: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # the second Ctrl-C: after the checkpoint being written
        last = out / "checkpoints" / "last"
        kept = f"; the last checkpoint is {last}" if last.exists() else ""
        print(f"\naborted{kept}", file=sys.stderr)
        return 130
    for n in result.notices:
        if not n.startswith("initial weights ") and not n.startswith("  "):  # shown above
            print(f"note: {n}", file=sys.stderr)
    if result.status == "failed":
        print(f"error: {result.message}", file=sys.stderr)
        if result.traceback:
            import os
            if os.environ.get("NETBUILDER_DEBUG"):
                print(result.traceback, file=sys.stderr)
        return 1
    if result.status == "stopped":
        print(f"stopped; checkpoint saved to {result.checkpoint}\nresume with: "
              f"{resume_command(args, out, result.checkpoint)}", file=sys.stderr)
        return 130
    if result.nothing_to_do:
        print(f"nothing left to train: {args.resume} has already trained all "
              f"{result.epochs_done} epoch(s) of this run; to train longer, resume with a "
              f"larger --epochs (e.g. --epochs {result.epochs_done * 2})", file=sys.stderr)
    if result.test:
        _print_test(result.test, trainer.data.info.class_names)
    print(f"checkpoint: {out / 'checkpoints' / 'last'}  (best: {out / 'checkpoints' / 'best'})")
    print(f"metrics: {out / 'metrics.csv'}")
    return 0


def tuned_for_run(project, args):
    """The project with this run's --init and --freeze applied (the file is not changed)."""
    from ..core.graph import GraphError
    from ..core.tuning import freeze_names

    init, freeze = getattr(args, "init", None), getattr(args, "freeze", None)
    if init and args.resume:
        raise TrainingConfigError("--init starts a new run from other weights and --resume "
                                  "continues a run; give one of them")
    if init:
        project.training = project.training.model_copy(
            update={"init_weights": str(Path(init).expanduser().absolute())})
    if freeze:
        try:
            freeze_names(project.graph, freeze.split(","))
        except GraphError as e:
            raise TrainingConfigError(str(e)) from None
    return project


def initial_report(project) -> str:
    """What --init will load, checked on a fresh compile before anything trains."""
    from ..core.compiler import compile_graph
    from .init_weights import check_initial

    report, _ = check_initial(compile_graph(project.graph), project.training.init_weights)
    return report.text()


def resume_command(args, out, checkpoint) -> str:
    """The command that continues this run: every setting given on this command line."""
    import shlex

    parts = ["netbuilder", "train", args.project, "--out", str(out)]
    if args.epochs is not None:
        parts += ["--epochs", str(args.epochs)]
    if args.device is not None:
        parts += ["--device", args.device]
    if getattr(args, "freeze", None):
        parts += ["--freeze", args.freeze]
    parts += ["--resume", str(checkpoint)]
    return " ".join(shlex.quote(p) for p in parts)


class _ctrl_c_stops(CtrlC):
    """First Ctrl-C: stop after the current batch (a checkpoint is saved); second: abort."""

    def __init__(self, trainer):
        self.trainer, self.old, self.deferred = trainer, None, False

    def _handler(self, signum, frame):
        if self.trainer.stopping:
            if self.trainer.saving and not self.deferred:  # never abort half a checkpoint
                self.deferred = True
                print("\nfinishing the checkpoint being written, then aborting",
                      file=sys.stderr)
                self.trainer.abort_after_save()
                return
            raise KeyboardInterrupt
        print("\nstopping after this batch (Ctrl-C again to abort)", file=sys.stderr)
        self.trainer.stop()
