"""Plot helpers the live views rely on to stay cheap to repaint."""
import math

import numpy as np

from netbuilder.ui.training.live_views import Curves
from netbuilder.ui.widgets.plots import log_ticks


def test_loss_axes_hold_still_while_a_run_streams_in(qtbot):
    c = Curves()
    qtbot.addWidget(c)
    c.resize(360, 340)
    c.show()
    c.set_epochs(20)
    changes = []
    c.loss_plot.plotItem.vb.sigRangeChanged.connect(lambda *a: changes.append(1))
    rng = np.random.default_rng(0)
    for n in range(1, 20 * 45 + 1):  # 20 epochs of 45 batches, redrawn every 15 batches
        c.s_batch.append(n / 45, math.exp(-n / 300) + 0.05 * rng.random())
        if n % 15 == 0:
            c._dirty = True
            c.redraw()
    assert len(changes) <= 3  # auto-range would move the axes on each of the 60 redraws
    x0, x1 = c.loss_range.x
    y0, y1 = c.loss_range.y
    assert (x0, x1) == (0.0, 20.0) and y0 == 0.0
    assert y1 >= c.s_batch.y.max()  # every point is in view


def test_log_ticks_never_crowd_and_always_label():
    for lo, hi in [(-0.15, 1.08), (-3, 1), (-8, 4), (0.1, 0.3), (2, 2.01)]:
        ticks = log_ticks(lo, hi)
        assert 2 <= len(ticks) <= 6
        assert all(lo - 1e-9 <= v <= hi + 1e-9 for v, _ in ticks)
        assert [v for v, _ in ticks] == sorted(v for v, _ in ticks)
    assert [label for _, label in log_ticks(-0.15, 1.08)] == ["1", "3", "10"]
