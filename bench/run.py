"""netbuilder benchmarks: `make bench` (or `.venv/bin/python bench/run.py [--only SUBSTR]`).

Prints a short `#` header, then one `name: value` line per measurement (the unit is the end
of the name: _s seconds, _ms milliseconds, _kib KiB, _ratio / _nodes / _evaluations plain
numbers). Timings are medians over repeats; the machine is small and noisy.

Adding a benchmark: write a function `def bench_xxx(cfg):` that yields (name, value) pairs
and decorate it with `@bench`. `--only xxx` runs the benchmarks whose function name contains
the substring (`--list` shows them).
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import torch  # noqa: E402  (imported before any timing: torch import time is excluded)
import torch.nn.functional as F  # noqa: E402

import graphs  # noqa: E402
import handwritten  # noqa: E402
from netbuilder import examples  # noqa: E402
from netbuilder.core import shapes  # noqa: E402
from netbuilder.core.analysis import analyze, errors  # noqa: E402
from netbuilder.core.compiler import compile_graph  # noqa: E402
from netbuilder.core.project import Project, load_project, save_project  # noqa: E402
from netbuilder.core.shapes import ShapeInference  # noqa: E402

N_NODES = 2000
Result = Iterator[tuple[str, float]]


@dataclass
class Config:
    quick: bool = False  # fewer repeats, for checking the bench itself

    def n(self, full: int, quick: int | None = None) -> int:
        return (quick if quick is not None else max(1, full // 4)) if self.quick else full


BENCHES: list[Callable[[Config], Result]] = []


def bench(fn: Callable[[Config], Result]) -> Callable[[Config], Result]:
    BENCHES.append(fn)
    return fn


# ---- helpers --------------------------------------------------------------------------------

def median(xs) -> float:
    return statistics.median(xs)


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    """One sample. A collection first, so a pending gen-2 GC pass (slow with torch's many
    live objects) lands outside the timed region rather than randomly inside it."""
    gc.collect()
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def check_no_errors(problems) -> None:
    errs = errors(problems)
    if errs:
        raise AssertionError("graph has errors: " + "; ".join(p.message for p in errs[:3]))


_warmed = False


def warm_up_torch() -> None:
    """Pay torch's one-time lazy costs (the first meta op under FlopCounterMode imports
    torch._dynamo, ~1-3 s) on a tiny graph, so steady-state numbers exclude them; the
    `first_run` benchmark measures that cost on its own."""
    global _warmed
    if _warmed:
        return
    g = graphs.residual_mlp(12)
    for _ in range(2):
        shapes._CACHE.clear()
        check_no_errors(analyze(g))
        compile_graph(g, seed=0)
    shapes._CACHE.clear()
    _warmed = True


# ---- 1. shape inference + analysis, full and after one edit -----------------------------

@bench
def bench_shape_inference(cfg: Config) -> Result:
    builds = [timed(lambda: graphs.residual_mlp(N_NODES))[0] for _ in range(cfg.n(3, 1))]
    yield f"graph_build_{N_NODES}_nodes_s", median(builds)

    warm_up_torch()
    g = graphs.residual_mlp(N_NODES)

    full, full_shapes, full_analyze, evals = [], [], [], []
    for _ in range(cfg.n(7, 2)):
        shapes._CACHE.clear()  # a true cold cache; torch is imported and warmed up
        si = ShapeInference(g)
        e0 = shapes.stats["evaluations"]
        gc.collect()
        t0 = time.perf_counter()
        si.update()
        t1 = time.perf_counter()
        problems = analyze(g, si)
        t2 = time.perf_counter()
        check_no_errors(problems)
        assert si.recomputed == N_NODES, si.recomputed
        full.append(t2 - t0)
        full_shapes.append(t1 - t0)
        full_analyze.append(t2 - t1)
        evals.append(shapes.stats["evaluations"] - e0)
        si.close()
    t_full = median(full)
    yield f"infer_full_{N_NODES}_nodes_s", t_full
    yield f"infer_full_{N_NODES}_nodes_shapes_only_s", median(full_shapes)
    yield f"infer_full_{N_NODES}_nodes_analyze_only_s", median(full_analyze)
    # Identical blocks share cache keys, so a cold run only evaluates a handful of nodes in
    # torch; bench_shape_inference_distinct_widths measures the no-sharing case.
    yield f"infer_full_{N_NODES}_nodes_torch_evaluations", max(evals)

    si = ShapeInference(g)
    check_no_errors(analyze(g, si))

    # Edit A: the hidden width of a block in the middle. The change reaches the block's
    # ReLU and second Linear (different in_features) and stops at the Add (same shape).
    lin = graphs.middle(g, "Linear", 0)
    # Edit B: LayerNorm eps in the middle: only that node changes.
    ln = graphs.middle(g, "LayerNorm")
    edits = {
        "linear_width": (lin, "out_features", lambda i: 65 + i,
                         lambda v: si.infos[lin.id].output.shape == (None, v)),
        "layernorm_eps": (ln, "eps", lambda i: 1e-5 * (1.0 + (i + 1) / 64),
                          lambda v: True),
    }
    edit_medians = {}
    for label, (node, pname, value_of, verify) in edits.items():
        tot, upd, ana, rec = [], [], [], []
        for i in range(cfg.n(15, 3)):
            value = value_of(i)  # a new value each time: a shape-cache miss, like a user edit
            g.set_param(node.id, pname, value)  # the edit itself is not timed
            gc.collect()
            t0 = time.perf_counter()
            si.update()
            t1 = time.perf_counter()
            problems = analyze(g, si)
            t2 = time.perf_counter()
            check_no_errors(problems)
            assert verify(value), f"{label}: edit not reflected in shape inference"
            tot.append(t2 - t0)
            upd.append(t1 - t0)
            ana.append(t2 - t1)
            rec.append(si.recomputed)
        edit_medians[label] = median(tot)
        yield f"infer_edit_{label}_{N_NODES}_nodes_s", median(tot)
        yield f"infer_edit_{label}_update_only_s", median(upd)
        yield f"infer_edit_{label}_analyze_only_s", median(ana)
        yield f"infer_edit_{label}_recomputed_nodes", max(rec)
    si.close()
    yield "infer_full_vs_edit_ratio", t_full / edit_medians["linear_width"]
    yield "infer_full_vs_edit_eps_ratio", t_full / edit_medians["layernorm_eps"]


@bench
def bench_shape_inference_distinct_widths(cfg: Config) -> Result:
    """Same size, but every block has its own hidden width: little for the cache to share,
    so this is the per-node cost of real torch meta evaluations."""
    warm_up_torch()
    g = graphs.residual_mlp(N_NODES, distinct_widths=True)
    times, evals = [], []
    for _ in range(cfg.n(3, 1)):
        shapes._CACHE.clear()
        si = ShapeInference(g)
        e0 = shapes.stats["evaluations"]
        dt, problems = timed(lambda: analyze(g, si))  # analyze runs si.update() first
        check_no_errors(problems)
        times.append(dt)
        evals.append(shapes.stats["evaluations"] - e0)
        si.close()
    t_full = median(times)
    yield f"infer_full_{N_NODES}_nodes_distinct_widths_s", t_full
    yield f"infer_full_{N_NODES}_nodes_distinct_widths_torch_evaluations", max(evals)
    yield "infer_per_torch_evaluation_ms", t_full / max(evals) * 1e3

    # One hidden-width edit in the middle, as in bench_shape_inference (widths >= 1000 are
    # used by no block, so every edit misses the cache).
    si = ShapeInference(g)
    check_no_errors(analyze(g, si))
    lin = graphs.middle(g, "Linear", 0)
    edits, rec = [], []
    for i in range(cfg.n(9, 3)):
        g.set_param(lin.id, "out_features", 1000 + i)
        dt, problems = timed(lambda: analyze(g, si))
        check_no_errors(problems)
        assert si.infos[lin.id].output.shape == (None, 1000 + i)
        edits.append(dt)
        rec.append(si.recomputed)
    si.close()
    yield f"infer_edit_linear_width_{N_NODES}_nodes_distinct_widths_s", median(edits)
    yield "infer_edit_linear_width_distinct_widths_recomputed_nodes", max(rec)
    yield "infer_full_vs_edit_distinct_widths_ratio", t_full / median(edits)


@bench
def bench_first_run(cfg: Config) -> Result:
    """The full inference as the first one in a fresh process (torch imported beforehand,
    so its import is excluded, but torch's lazy imports on first use are included)."""
    times = []
    for _ in range(cfg.n(3, 1)):
        out = subprocess.run([sys.executable, str(HERE / "first_infer.py"), str(N_NODES)],
                             capture_output=True, text=True, check=True, cwd=HERE)
        times.append(json.loads(out.stdout.strip().splitlines()[-1])["seconds"])
    yield f"infer_full_{N_NODES}_nodes_first_in_process_s", median(times)


@bench
def bench_startup_to_shapes(cfg: Config) -> Result:
    """Wall time from launching `python -m netbuilder gui digits_cnn` to the end of the
    document's first analysis with shapes (the node cards filled), in a fresh process: on a
    first launch (no shape cache: after `import torch`, by the quick CPU pass) and on a
    relaunch (the shape cache the previous launch saved: before torch is imported)."""
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", NETBUILDER_REPORT_STARTUP="1",
               NETBUILDER_QUIT_AFTER_SHAPES="1", NETBUILDER_NO_RECOVERY="1")

    def launch(state_dir: str) -> tuple[float, float]:
        t0 = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "netbuilder", "gui", "digits_cnn"],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                env={**env, "NETBUILDER_STATE_DIR": state_dir})
        wall = internal = float("nan")
        for line in proc.stdout:
            if line.startswith("shapes_s:"):
                wall, internal = time.perf_counter() - t0, float(line.split()[1])
                break
        proc.stdout.close()
        proc.wait(timeout=300)  # it saves the shape cache on the way out
        return wall, internal

    first, first_internal, again = [], [], []
    for _ in range(cfg.n(3, 1)):
        with tempfile.TemporaryDirectory() as tmp:
            wall, internal = launch(tmp)
            first.append(wall)
            first_internal.append(internal)
            again.append(launch(tmp)[0])
    yield "startup_to_shapes_s", median(first)
    yield "startup_to_shapes_after_imports_s", median(first_internal)
    yield "startup_to_shapes_relaunch_s", median(again)


# ---- 2. compile ------------------------------------------------------------------------------

@bench
def bench_compile(cfg: Config) -> Result:
    warm_up_torch()
    g = graphs.residual_mlp(N_NODES)
    si = ShapeInference(g)
    check_no_errors(analyze(g, si))
    # With the app's up-to-date inference (compile still re-runs the analysis).
    times = [timed(lambda: compile_graph(g, si, seed=0)) for _ in range(cfg.n(5, 1))]
    yield f"compile_{N_NODES}_nodes_s", median(t for t, _ in times)
    si.close()
    # As `netbuilder.api.compile(graph)` does: its own ShapeInference (warm shape cache).
    own = [timed(lambda: compile_graph(g, seed=0))[0] for _ in range(cfg.n(3, 1))]
    yield f"compile_{N_NODES}_nodes_own_inference_s", median(own)
    gm = times[-1][1]
    with torch.no_grad():
        y = gm(torch.randn(8, 64))
    assert y.shape == (8, 64) and torch.isfinite(y).all()


# ---- 3. project save / load ----------------------------------------------------------------

@bench
def bench_project_io(cfg: Config) -> Result:
    g = graphs.residual_mlp(N_NODES)
    project = Project(graph=g, name="bench")
    saves, loads, both = [], [], []
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "big.json"
        for _ in range(cfg.n(7, 2)):
            ts, _ = timed(lambda: save_project(project, path))
            tl, loaded = timed(lambda: load_project(path))
            saves.append(ts)
            loads.append(tl)
            both.append(ts + tl)
        assert loaded.graph.signature() == g.signature(), "round trip changed the graph"
        size = path.stat().st_size
    yield f"project_save_{N_NODES}_nodes_s", median(saves)
    yield f"project_load_{N_NODES}_nodes_s", median(loads)
    yield f"project_save_load_{N_NODES}_nodes_s", median(both)
    yield f"project_file_{N_NODES}_nodes_kib", size / 1024


# ---- 4. training step: compiled fx module vs hand-written module ---------------------------

def fwd_bwd_compare(name: str, rounds: int, inner: int, batch: int = 256) -> Result:
    torch.manual_seed(0)
    gm = compile_graph(examples.load(name).graph, seed=0)
    hand = handwritten.MODELS[name]()
    handwritten.copy_weights(gm, hand)
    x = torch.randn(batch, 1, 8, 8)
    y = torch.randint(0, 10, (batch,))
    handwritten.check_equal(gm, hand, x, y)
    gm.train()
    hand.train()

    def step(m):
        m.zero_grad(set_to_none=True)
        F.cross_entropy(m(x), y).backward()

    for _ in range(5):
        step(gm)
        step(hand)
    gc.collect()
    ta, tb = [], []
    for r in range(rounds):
        # Interleaved, alternating which goes first (A B, B A, ...) so drifts in machine
        # speed and any order effect hit both equally.
        pair = ((gm, ta), (hand, tb)) if r % 2 == 0 else ((hand, tb), (gm, ta))
        for m, acc in pair:
            t0 = time.perf_counter()
            for _ in range(inner):
                step(m)
            acc.append((time.perf_counter() - t0) / inner)
    yield f"{name}_fx_fwd_bwd_ms", median(ta) * 1e3
    yield f"{name}_handwritten_fwd_bwd_ms", median(tb) * 1e3
    ratio = median(ta) / median(tb)
    if name == "digits_cnn":
        yield "fx_vs_handwritten_fwd_bwd_ratio", ratio  # the headline number (goal <= 1.02)
    else:
        yield f"{name}_fx_vs_handwritten_fwd_bwd_ratio", ratio
    # Median of the per-round ratios: each pair ran back to back, so less drift noise.
    yield f"{name}_fx_vs_handwritten_fwd_bwd_paired_ratio", median(
        a / b for a, b in zip(ta, tb))


@bench
def bench_fwd_bwd_digits_cnn(cfg: Config) -> Result:
    yield from fwd_bwd_compare("digits_cnn", rounds=cfg.n(120, 10), inner=2)


@bench
def bench_fwd_bwd_residual_cnn(cfg: Config) -> Result:
    yield from fwd_bwd_compare("residual_cnn", rounds=cfg.n(120, 10), inner=2)


# ---- driver -----------------------------------------------------------------------------------

def _load_module_benches() -> None:
    """Benchmarks of other areas live in bench/bench_*.py, each with `benchmarks()`
    returning callables that yield (name, value) pairs."""
    import importlib

    for path in sorted(HERE.glob("bench_*.py")):  # each area adds its own file
        mod = importlib.import_module(path.stem)
        for fn in mod.benchmarks():
            wrapped = (lambda f: lambda cfg: f())(fn)
            wrapped.__name__ = fn.__name__
            BENCHES.append(wrapped)


def fmt(v) -> str:
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, int) or (isinstance(v, float) and v.is_integer() and abs(v) >= 1000):
        return str(int(v))
    return f"{v:.4g}" if abs(v) >= 1e-4 else f"{v:.3e}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", metavar="SUBSTRING", action="append",
                    help="run only benchmarks whose name contains this (repeatable)")
    ap.add_argument("--list", action="store_true", help="list benchmarks and exit")
    ap.add_argument("--quick", action="store_true", help="few repeats (checks the bench)")
    args = ap.parse_args(argv)
    _load_module_benches()
    if args.list:
        for fn in BENCHES:
            print(fn.__name__)
        return 0
    chosen = [fn for fn in BENCHES
              if not args.only or any(s in fn.__name__ for s in args.only)]
    if not chosen:
        print(f"no benchmark matches {args.only}; see --list", file=sys.stderr)
        return 2

    torch.set_num_threads(1)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    import netbuilder
    print(f"# netbuilder {netbuilder.__version__} bench: python {platform.python_version()}, "
          f"torch {torch.__version__}, {cpus} cpus, torch threads {torch.get_num_threads()}"
          f"{', QUICK (few repeats)' if args.quick else ''}")
    print("# medians over repeats; torch import excluded; units at the end of each name")
    cfg = Config(quick=args.quick)
    start = time.perf_counter()
    for fn in chosen:
        t0 = time.perf_counter()
        for name, value in fn(cfg):
            print(f"{name}: {fmt(value)}", flush=True)
        print(f"# {fn.__name__} took {time.perf_counter() - t0:.1f} s", flush=True)
    print(f"# total {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
