"""Probes: the numbers the live views draw."""
import numpy as np
import pytest
import torch

from netbuilder.api import compile
from netbuilder.training import Trainer
from netbuilder.training.events import ProbeSnapshot
from netbuilder.training.probes import HIST_BINS, STAT_VALUES, Prober

from training_util import project, small_example


def test_probe_snapshot_of_a_cnn():
    snaps = []
    Trainer(small_example("digits_cnn", epochs=1), probe_every=4,
            callbacks=[lambda e: isinstance(e, ProbeSnapshot) and snaps.append(e)]).run()
    assert [s.step for s in snaps] == list(range(4, 4 * len(snaps) + 1, 4))
    layers = {p.name: p for p in snaps[-1].layers}
    conv, relu, lin = layers["Conv2d"], layers["ReLU"], layers["Linear"]
    assert conv.feature_maps.shape == (16, 8, 8) and relu.feature_maps is None
    for p in layers.values():
        assert p.hist_counts.shape == (HIST_BINS,) and p.hist_edges.shape == (HIST_BINS + 1,)
        assert p.min <= p.mean <= p.max and p.std >= 0
    # statistics come from a fixed sample of STAT_VALUES of the probe sample's values (a
    # full pass cost ~35 ms per snapshot)
    assert 64 * 16 * 8 * 8 > STAT_VALUES and conv.hist_counts.sum() == STAT_VALUES
    assert 0 <= relu.dead_fraction <= 1 and conv.dead_fraction is None
    assert lin.weight_norm > 0 and lin.grad_norm > 0 and 0 < lin.update_ratio < 1
    assert relu.weight_norm is None and relu.grad_norm is None
    assert layers["BatchNorm2d"].weight_norm > 0


def test_strided_statistics_match_the_full_tensor():
    p = project([("Linear", {"out_features": 300}), "ReLU", ("Linear", {"out_features": 2})],
                [2], "spirals")
    model = compile(p)
    x = torch.randn(256, 2, generator=torch.Generator().manual_seed(0))
    full = {}
    model.linear.register_forward_hook(lambda m, a, out: full.__setitem__("a", out.detach()))
    snap = Prober(model, p.graph, x).snapshot(0, 0, 0)
    a = full["a"]
    assert a.numel() > 4 * STAT_VALUES  # so the probe really did subsample
    lin = next(layer for layer in snap.layers if layer.type == "Linear")  # the first
    assert lin.mean == pytest.approx(float(a.mean()), abs=0.05 * float(a.std()))
    assert lin.std == pytest.approx(float(a.std()), rel=0.05)
    assert float(a.min()) <= lin.min <= lin.max <= float(a.max())


def test_dead_relus_are_counted():
    # A ReLU after a Linear with a hugely negative bias never fires.
    p = project([("Linear", {"out_features": 8}), "ReLU", ("Linear", {"out_features": 2})],
                [2], "spirals")
    model = compile(p)
    with torch.no_grad():
        model.linear.bias.fill_(-100.0)
    snap = Prober(model, p.graph, torch.randn(32, 2)).snapshot(0, 0, 0)
    relu = next(layer for layer in snap.layers if layer.type == "ReLU")
    assert relu.dead_fraction == 1.0 and relu.max == 0.0
    assert np.isfinite(relu.hist_edges).all()
