"""Training-health badges from real probe snapshots of real (badly chosen) networks."""
from netbuilder.training import Trainer
from netbuilder.training.events import Failed, ProbeSnapshot
from netbuilder.training.health import HealthMonitor

from training_util import project


def run(p, steps_of_interest=None, **kw):
    snaps, failed = [], []

    def on(e):
        if isinstance(e, ProbeSnapshot):
            snaps.append(e)
        elif isinstance(e, Failed):
            failed.append(e)
    Trainer(p, probe_every=1, tensorboard=False, callbacks=[on], **kw).run()
    return snaps, failed


def kinds(badges, nid):
    return [k for k, _ in badges.get(nid, [])]


def test_deep_sigmoid_stack_gets_vanishing_gradients_on_its_first_layer():
    layers = []
    for _ in range(14):
        layers += [("Linear", {"out_features": 16}), "Sigmoid"]
    p = project(layers + [("Linear", {"out_features": 2})], [2], "spirals", epochs=1,
                optimizer="sgd", lr=0.01)
    snaps, _ = run(p)
    monitor = HealthMonitor()
    for s in snaps[:3]:
        monitor.update(s)
    first_linear = snaps[0].layers[0]
    assert first_linear.type == "Linear"
    assert "vanishing" in kinds(monitor.badges, first_linear.node_id)
    last_linear = [lp for lp in snaps[0].layers if lp.type == "Linear"][-1]
    assert "vanishing" not in kinds(monitor.badges, last_linear.node_id)
    # one snapshot is not enough: a badge needs two in a row
    assert "vanishing" not in kinds(HealthMonitor().update(snaps[0]), first_linear.node_id)


def test_a_huge_learning_rate_gets_exploding_badges_and_then_a_nan_node():
    p = project([("Linear", {"out_features": 64}), "ReLU", ("Linear", {"out_features": 64}),
                 "ReLU", ("Linear", {"out_features": 2})], [2], "spirals", epochs=5,
                optimizer="sgd", lr=10.0)
    snaps, failed = run(p)
    monitor = HealthMonitor()
    exploding = set()
    for s in snaps:
        exploding |= {nid for nid, v in monitor.update(s).items()
                      if any(k == "exploding" for k, _ in v)}
    assert exploding  # before it failed, layers' updates or gradients blew up
    assert len(failed) == 1 and failed[0].node_id == "n2"  # the first Linear's weights
    badges = monitor.failed(failed[0])
    assert kinds(badges, "n2")[0] == "nan"
    assert sum(k == "nan" for v in badges.values() for k, _ in v) == 1  # only the first


def test_healthy_network_gets_no_badges():
    p = project([("Linear", {"out_features": 32}), "ReLU", ("Linear", {"out_features": 2})],
                [2], "spirals", epochs=1)
    snaps, failed = run(p)
    monitor = HealthMonitor()
    for s in snaps:
        monitor.update(s)
    assert not failed and monitor.badges == {}
