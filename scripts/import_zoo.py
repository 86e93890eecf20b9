"""Import every torchvision classification model and report how many pass (not in CI).

`python scripts/import_zoo.py [--size 64] [--onnx] [NAME ...]`: for each model of
`torchvision.models.list_models(module=torchvision.models)` (random weights: nothing is
downloaded), import it (which compiles it and compares it with the original), then compile
the saved project again and compare outputs, and with --onnx export verified ONNX. Prints
one line per model and a summary line with the count and the time taken.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch
import torchvision

from netbuilder.api import compile
from netbuilder.core.project import parse_project
from netbuilder.export import export_project, load_weights, save_weights
from netbuilder.importers import ModelImportError, import_model, load_source

# models whose architecture needs a given input size (or at least one this large)
SIZES = {"inception_v3": 299, "googlenet": 64}
for _name in ("vit_b_16", "vit_b_32", "vit_l_16", "vit_l_32", "vit_h_14", "swin_t", "swin_s",
              "swin_b", "swin_v2_t", "swin_v2_s", "swin_v2_b", "maxvit_t"):
    SIZES[_name] = 224


def one(name: str, size: int, onnx: bool) -> str:
    source = load_source(f"torchvision:{name}")
    shape = [3, SIZES.get(name, size), SIZES.get(name, size)]
    result = import_model(source.model, [shape], factory=source.factory, name=name)
    project = parse_project(result.project.to_json(), name)
    with tempfile.TemporaryDirectory() as tmp:
        weights = Path(tmp) / "w.safetensors"
        save_weights(result.model, weights)
        model = compile(project).eval()
        load_weights(model, weights)
        x = torch.randn(2, *shape)
        with torch.no_grad():
            diff = float((model(x) - source.model.eval()(x)).abs().max())
        if diff > 1e-3:
            raise AssertionError(f"recompiled project differs by {diff:.3g}")
        if onnx:
            export_project(project, "onnx", Path(tmp) / "m.onnx", weights=weights,
                           batch_sizes=(1, 2))
    g = project.graph
    return (f"{len(g.nodes)} top nodes, {len(g.blocks)} definitions, "
            f"{len(result.generic)} generic, max diff {result.max_diff:.2g}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("names", nargs="*")
    ap.add_argument("--size", type=int, default=64, help="image size where a model allows")
    ap.add_argument("--onnx", action="store_true", help="also export verified ONNX")
    args = ap.parse_args(argv)
    names = args.names or torchvision.models.list_models(module=torchvision.models)
    start, passed, failed = time.perf_counter(), 0, []
    for name in names:
        t0 = time.perf_counter()
        try:
            info = one(name, args.size, args.onnx)
            passed += 1
            print(f"PASS {name} ({time.perf_counter() - t0:.1f}s): {info}", flush=True)
        except (ModelImportError, Exception) as e:  # noqa: BLE001 - a report, not a test
            failed.append(name)
            msg = str(e).strip().splitlines()[0][:300] if str(e).strip() else type(e).__name__
            print(f"FAIL {name} ({time.perf_counter() - t0:.1f}s): {msg}", flush=True)
    print(f"{passed}/{len(names)} models pass in {time.perf_counter() - start:.0f}s"
          f"{' (with ONNX)' if args.onnx else ''}; failed: {', '.join(failed) or 'none'}")
    return 0 if not failed else 1


if __name__ == "__main__":
    sys.exit(main())
