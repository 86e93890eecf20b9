"""Child process for run.py: full shape inference + analysis of the 2,000-node graph as the
FIRST inference in a fresh process (torch already imported, shape cache empty).

This includes what torch imports lazily on the first meta-device op under FlopCounterMode
(torch._dynamo and friends), which a user pays once per app start. Prints one JSON line.
"""
from __future__ import annotations

import gc
import json
import sys
import time

import torch  # noqa: F401  (import time excluded on purpose)

import graphs
from netbuilder.core import shapes
from netbuilder.core.analysis import analyze, errors
from netbuilder.core.shapes import ShapeInference


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    g = graphs.residual_mlp(n)
    shapes._CACHE.clear()
    gc.collect()
    t0 = time.perf_counter()
    si = ShapeInference(g)
    si.update()
    problems = analyze(g, si)
    dt = time.perf_counter() - t0
    assert not errors(problems), errors(problems)[:3]
    print(json.dumps({"seconds": dt, "modules": len(sys.modules)}))


if __name__ == "__main__":
    main()
