"""Import every torchvision classification model and report how many pass (not in CI).

`python scripts/import_zoo.py [--size 64] [--onnx] [--out FILE] [--timeout S] [NAME ...]`:
for each model of `torchvision.models.list_models(module=torchvision.models)` (random
weights: nothing is downloaded), import it (which compiles it and compares it with the
original), then compile the saved project again and compare outputs, and with --onnx
export verified ONNX. The models run in a worker process with a time limit per model and a
memory limit: one that overruns or crashes is killed, reported, and a new worker goes on
with the next (one worker for many models: importing torch's exporter costs ~30 s a
process). Prints one line per model
and a summary line with the count and the time taken; with --out each result is appended
to FILE as a JSON line as soon as it is known (a rerun with the same --out skips models
already there, so an interrupted run resumes).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import select
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# models whose architecture needs a given input size (or at least one this large)
SIZES = {"inception_v3": 299, "googlenet": 64}
for _name in ("vit_b_16", "vit_b_32", "vit_l_16", "vit_l_32", "vit_h_14", "swin_t", "swin_s",
              "swin_b", "swin_v2_t", "swin_v2_s", "swin_v2_b", "maxvit_t"):
    SIZES[_name] = 224


def one(name: str, size: int, onnx: bool) -> str:
    import torch

    from netbuilder.api import compile
    from netbuilder.core.project import parse_project
    from netbuilder.export import export_project, load_weights, save_weights
    from netbuilder.importers import import_model, load_source

    torch.manual_seed(0)
    source = load_source(f"torchvision:{name}")
    shape = [3, SIZES.get(name, size), SIZES.get(name, size)]
    result = import_model(source.model, [shape], factory=source.factory, name=name)
    project = parse_project(result.project.to_json(), name)
    with tempfile.TemporaryDirectory() as tmp:
        weights = Path(tmp) / "w.safetensors"
        save_weights(result.model, weights)
        del result
        model = compile(project).eval()
        load_weights(model, weights)
        x = torch.randn(2, *shape)
        with torch.no_grad():
            diff = float((model(x) - source.model.eval()(x)).abs().max())
        if diff > 1e-3:
            raise AssertionError(f"recompiled project differs by {diff:.3g}")
        del model, source
        if onnx:
            export_project(project, "onnx", Path(tmp) / "m.onnx", weights=weights,
                           batch_sizes=(1, 2))
    g = project.graph
    return f"{len(g.nodes)} top nodes, {len(g.blocks)} definitions, max diff {diff:.2g}"


RESULT = "@@zoo-result "


def _serve(size: int, onnx: bool) -> int:
    """Worker: one model name a line on stdin, one RESULT line (JSON) each on stdout."""
    for line in sys.stdin:
        name = line.strip()
        if not name:
            continue
        try:
            info, ok = one(name, size, onnx), True
        except MemoryError:
            info, ok = "out of memory (the --memory-gb limit)", False
        except Exception as e:  # noqa: BLE001 - a report, not a test
            text = str(e).strip()
            info = f"{type(e).__name__}: {text.splitlines()[0][:400]}" if text \
                else type(e).__name__
            ok = False
        sys.stdout.write(RESULT + json.dumps({"ok": ok, "info": info}) + "\n")
        sys.stdout.flush()
    return 0


def _limit_memory(gb: float):
    def apply():
        cap = int(gb * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    return apply


class Worker:
    """The worker process, restarted after a model that killed or overran it."""

    def __init__(self, args):
        self.args, self.proc, self.buf = args, None, b""

    def start(self):
        cmd = [sys.executable, __file__, "--serve", "--size", str(self.args.size)]
        if self.args.onnx:
            cmd.append("--onnx")
        self.err = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.err,
            preexec_fn=_limit_memory(self.args.memory_gb) if self.args.memory_gb else None)
        self.buf = b""

    def stop(self):
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    def run(self, name: str) -> dict:
        if self.proc is None or self.proc.poll() is not None:
            self.start()
        t0 = time.perf_counter()
        self.proc.stdin.write(name.encode() + b"\n")
        self.proc.stdin.flush()
        fd = self.proc.stdout.fileno()
        while True:
            while b"\n" in self.buf:
                line, self.buf = self.buf.split(b"\n", 1)
                text = line.decode(errors="replace")
                if text.startswith(RESULT):
                    return {"name": name, "seconds": round(time.perf_counter() - t0, 1),
                            **json.loads(text[len(RESULT):])}
            left = self.args.timeout - (time.perf_counter() - t0)
            ready = select.select([fd], [], [], max(left, 0))[0] if left > 0 else []
            chunk = os.read(fd, 65536) if ready else b""
            if not chunk:  # timed out, or (end of its output) the worker died
                died = bool(ready)
                self.stop()
                seconds = round(time.perf_counter() - t0, 1)
                if not died:
                    return {"name": name, "ok": False, "seconds": seconds,
                            "info": f"timed out after {self.args.timeout:.0f}s"}
                self.err.seek(0)
                tail = (self.err.read().decode(errors="replace").strip().splitlines()
                        or ["no message"])[-1][:400]
                return {"name": name, "ok": False, "seconds": seconds,
                        "info": f"the worker died (killed or out of memory): {tail}"}
            self.buf += chunk


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("names", nargs="*")
    ap.add_argument("--size", type=int, default=64, help="image size where a model allows")
    ap.add_argument("--onnx", action="store_true", help="also export verified ONNX")
    ap.add_argument("--out", type=Path, help="append one JSON line per model to this file")
    ap.add_argument("--timeout", type=float, default=600, help="seconds per model")
    ap.add_argument("--memory-gb", type=float, default=10, help="address-space cap per model")
    ap.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.serve:
        return _serve(args.size, args.onnx)
    import torchvision

    names = args.names or torchvision.models.list_models(module=torchvision.models)
    done = {}
    if args.out and args.out.exists():
        for line in args.out.read_text().splitlines():
            if line.strip():
                row = json.loads(line)
                done[row["name"]] = row
    start, results, worker = time.perf_counter(), [], Worker(args)
    for name in names:
        if name in done:
            results.append(done[name])
            continue
        row = worker.run(name)
        if not row["ok"]:  # what a failure left behind must not sink the next model
            worker.stop()
            if "allocate" in row["info"] or "memory" in row["info"]:
                row = worker.run(name)  # once more, in a fresh worker
        results.append(row)
        print(f"{'PASS' if row['ok'] else 'FAIL'} {name} ({row['seconds']}s): {row['info']}",
              flush=True)
        if args.out:
            with args.out.open("a") as f:
                f.write(json.dumps(row) + "\n")
    worker.stop()
    passed = [r for r in results if r["ok"]]
    failed = [r["name"] for r in results if not r["ok"]]
    total = sum(r["seconds"] for r in results)
    print(f"{len(passed)}/{len(names)} models pass in {total:.0f}s of model time "
          f"({time.perf_counter() - start:.0f}s this run){' with ONNX' if args.onnx else ''};"
          f" failed: {', '.join(failed) or 'none'}")
    return 0 if not failed else 1


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    sys.exit(main())
