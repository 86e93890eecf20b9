"""`netbuilder sweep` and `netbuilder diff`. Bad input exits 1 with a message (CliError or
an `error:` line), never a traceback."""
from __future__ import annotations

import sys
from pathlib import Path

from ..core.project import ProjectError
from ..training.interrupts import CtrlC


def add_commands(sub) -> None:
    """The two subcommands, for cli.build_parser()."""
    s = sub.add_parser("sweep", help="train a project many times over a range of settings "
                       "or layer sizes (Optuna), several trials at once")
    s.add_argument("project", help="a project file or the name of an example")
    s.add_argument("--param", action="append", default=[], metavar="NAME=SPEC",
                   help="what to sweep: a training setting (lr, batch_size, weight_decay, "
                   "epochs, ...) or NODE.param (e.g. 'Linear 1.out_features'); SPEC is a "
                   "list a,b,c or a range lo:hi or lo:hi:log. Repeat for more")
    s.add_argument("--trials", type=int, default=8, metavar="N", help="trials in all "
                   "(default 8; a resumed sweep counts the finished ones)")
    s.add_argument("--parallel", type=int, default=1, metavar="K",
                   help="trials training at once, each in its own process (default 1)")
    s.add_argument("--sampler", choices=("tpe", "random", "grid"), default="tpe")
    s.add_argument("--metric", choices=("val_accuracy", "val_loss"),
                   help="what the sweep optimises (default: val_accuracy for "
                   "classification, val_loss otherwise)")
    s.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"))
    s.add_argument("--no-prune", action="store_true", help="train every trial to the end")
    s.add_argument("--out", metavar="DIR", help="the sweep's folder (default sweeps/NAME); "
                   "run the same command again to resume it")
    s.add_argument("--ray", metavar="ADDRESS", help="train the trials on this Ray cluster "
                   "('auto', or ray://HOST:10001); needs `pip install netbuilder[ray]`")
    s.set_defaults(func=run_sweep)
    d = sub.add_parser("diff", help="what changed between two versions of a project "
                       "(files, examples or run folders)")
    d.add_argument("a", help="the old version: a project file, an example or a run folder")
    d.add_argument("b", help="the new version")
    d.set_defaults(func=run_diff)


# ---- diff -----------------------------------------------------------------------------------

def run_diff(args) -> int:
    from ..core.diff import diff_projects
    from .versions import load_version

    old, new = load_version(args.a), load_version(args.b)
    d = diff_projects(old, new)
    if d.empty:
        print("no differences")
        return 0
    for line in d.lines():
        print(line)
    print(d.summary())
    return 0


# ---- sweep ----------------------------------------------------------------------------------

def run_sweep(args) -> int:
    from ..examples import resolve
    from .space import SpaceError, parse_space
    from .sweep import Sweep, SweepError, SweepOptions

    project = resolve(args.project)
    stem = Path(args.project).stem if args.project.endswith(".json") else args.project
    out = Path(args.out) if args.out else Path("sweeps") / stem
    try:
        dims = parse_space(project, args.param)
        sweep = Sweep(project, dims, out, SweepOptions(
            trials=args.trials, parallel=args.parallel, sampler=args.sampler,
            metric=args.metric, device=args.device, ray_address=args.ray,
            prune=not args.no_prune))
        sweep.start()
    except (SpaceError, SweepError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    for note in sweep.notes:
        print(f"note: {note}", file=sys.stderr)
    done = sweep.finished_count
    print(f"sweep of {', '.join(d.name for d in dims)} by {sweep.metric}: {args.trials} "
          f"trial(s), {args.parallel} at a time, in {out}"
          + (f" ({done} finished before)" if done else ""), file=sys.stderr)
    with _ctrl_c_stops(sweep):
        try:
            sweep.run(on_change=_Reporter(sweep))
        except KeyboardInterrupt:
            print("\naborted; finished trials are kept, run the same command to resume",
                  file=sys.stderr)
            return 130
    _print_results(sweep)
    if sweep.stopping:
        print(f"stopped; {sweep.finished_count} trial(s) finished. Run the same command to "
              f"resume: finished trials are not trained again", file=sys.stderr)
        return 130
    return 0


class _Reporter:
    """One line when a trial starts and one when it ends."""

    def __init__(self, sweep):
        self.sweep, self.seen = sweep, set()

    def __call__(self, st) -> None:
        values = ", ".join(f"{d.name}={_fmt(st.values.get(d.key))}" for d in self.sweep.dims)
        if st.number not in self.seen:
            self.seen.add(st.number)
            print(f"trial {st.number}: {values}", file=sys.stderr)
        if st.status != "running":
            score = st.metrics.get(self.sweep.metric)
            shown = f" {self.sweep.metric} {score:.4g}" if score is not None else ""
            why = f" ({st.message})" if st.status == "failed" and st.message else ""
            print(f"trial {st.number} {st.status}{shown} after {st.seconds:.1f} s{why}",
                  file=sys.stderr)


def _print_results(sweep) -> None:
    rows = sweep.results()
    if not rows:
        return
    metric = sweep.metric
    names = [d.name for d in sweep.dims]
    table = [["trial", "status", *names, metric, "seconds"]]
    reverse = sweep.direction == "maximize"
    ranked = sorted(rows, key=lambda r: (r.get(metric) is None,
                                         -(r.get(metric) or 0) if reverse else (r.get(metric) or 0)))
    for r in ranked:
        table.append([str(r["trial"]), r["status"], *(_fmt(r.get(n)) for n in names),
                      _fmt(r.get(metric)), f"{r['seconds']:.1f}"])
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    for row in table:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())
    best = sweep.best()
    if best is not None:
        print(f"best: trial {best['trial']} ({', '.join(f'{n}={_fmt(best.get(n))}' for n in names)})"
              f", {metric} {best[metric]:.4g}: {sweep.out / best['folder']}")
    print(f"results: {sweep.out / 'results.csv'}")


def _fmt(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


class _ctrl_c_stops(CtrlC):
    """First Ctrl-C: the running trials stop at their next batch; second: end them now."""

    def __init__(self, sweep):
        self.sweep, self.old = sweep, None

    def _handler(self, signum, frame):
        if self.sweep.stopping:
            raise KeyboardInterrupt
        print("\nstopping the running trials (Ctrl-C again to end them now)", file=sys.stderr)
        self.sweep.stop()


__all__ = ["add_commands", "run_sweep", "run_diff", "ProjectError"]
