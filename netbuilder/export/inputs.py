"""Random inputs for a project's Input nodes: what an export is traced with and checked on
(exporter.py) and what the generated python source is run on (pysource.py)."""
from __future__ import annotations

import torch

from ..core.project import Project


def probe_inputs(project: Project, batch: int, seed: int = 0) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed + batch)
    vocab = min((n.params["num_embeddings"] for n in project.graph.nodes.values()
                 if n.type == "Embedding"), default=2)
    xs = []
    for n in project.graph.nodes.values():
        if n.type != "Input":
            continue
        shape = (batch, *n.params["shape"])
        if n.params["dtype"] == "int64":
            xs.append(torch.randint(0, vocab, shape, generator=g))
        else:
            xs.append(torch.randn(shape, generator=g))
    return xs
