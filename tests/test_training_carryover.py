"""Pause, edit, resume: unchanged layers keep their weights and optimizer state exactly;
changed layers (and layers whose weight shapes follow from them) start fresh."""
import threading

import pytest
import torch

from netbuilder.core.project import parse_project
from netbuilder.training import Trainer, TrainingConfigError
from netbuilder.training.carryover import carry_over
from netbuilder.training.events import Finished, Paused
from training_util import small_example


def clone(project):
    return parse_project(project.to_json())


def states(trainer):
    m = trainer.model
    return {nid: {k: v.clone() for k, v in m.get_submodule(q).state_dict().items()}
            for nid, q in m.node_modules.items()}


def opt_state(trainer, nid):
    m = trainer.model.get_submodule(trainer.model.node_modules[nid])
    return [{k: v.clone() if torch.is_tensor(v) else v
             for k, v in trainer.optimizer.state[p].items()} for p in m.parameters()]


def paused_trainer(project, after_steps=15):
    """A run parked in a pause after a few steps, on a background thread."""
    parked = threading.Event()
    trainer = None

    def on(e):
        if getattr(e, "step", 0) == after_steps and not trainer.stopping:
            trainer.pause()
        if isinstance(e, Paused):
            parked.set()
    trainer = Trainer(project, callbacks=[on], tensorboard=False)
    th = threading.Thread(target=trainer.run, daemon=True)
    th.start()
    assert parked.wait(60)
    assert trainer.parked
    return trainer, th


def test_unchanged_layers_keep_weights_and_adam_state():
    p = small_example("spirals_mlp", epochs=3)
    trainer, th = paused_trainer(clone(p))
    before = states(trainer)
    adam_n2 = opt_state(trainer, "n2")
    lr = trainer.optimizer.param_groups[0]["lr"]
    edited = clone(trainer.project)
    edited.graph.set_param("n4", "out_features", 16)  # n4 changes; n6's in_features follows
    report = trainer.replace_project(edited)
    assert report.kept == ("n2",)
    assert set(report.reinitialised) == {"n4", "n6"}
    assert "shapes" in report.reasons["n6"] and "parameters" in report.reasons["n4"]
    after = states(trainer)
    for k, v in before["n2"].items():
        assert torch.equal(v, after["n2"][k])
    assert after["n4"]["weight"].shape == (16, 32)
    for a, b in zip(adam_n2, opt_state(trainer, "n2")):
        assert a.keys() == b.keys()
        for k in a:
            assert torch.equal(torch.as_tensor(a[k]), torch.as_tensor(b[k]))
    assert trainer.optimizer.param_groups[0]["lr"] == lr
    # fresh layers have no optimizer state yet
    m4 = trainer.model.get_submodule(trainer.model.node_modules["n4"])
    assert all(not trainer.optimizer.state.get(p_) for p_ in m4.parameters())
    # training goes on with the new graph to the end
    done = []
    trainer.callbacks.append(lambda e: done.append(e) if isinstance(e, Finished) else None)
    trainer.resume()
    th.join(60)
    assert done and done[0].status == "completed" and done[0].epochs_done == 3


def test_a_graph_that_cannot_train_is_refused_and_the_run_is_kept():
    p = small_example("spirals_mlp", epochs=2)
    trainer, th = paused_trainer(clone(p))
    model = trainer.model
    bad = clone(trainer.project)
    bad.graph.set_param("n6", "out_features", 3)  # 3 outputs for 2 classes
    with pytest.raises(TrainingConfigError):
        trainer.replace_project(bad)
    assert trainer.model is model
    trainer.stop()
    th.join(60)


def test_carry_over_copies_buffers_and_reports_type_changes():
    from netbuilder.core.compiler import compile_graph

    p = small_example("digits_cnn")
    g1 = p.graph
    m1 = compile_graph(g1, seed=1)
    with torch.no_grad():
        m1.get_submodule(m1.node_modules["n3"]).running_mean.fill_(0.5)
    g2 = g1.copy()
    g2.set_param("n5", "out_channels", 8)  # n5 changes, n6 (BatchNorm 32->8) follows
    m2 = compile_graph(g2, seed=2)
    r = carry_over(m1, g1, m2, g2)
    assert set(r.kept) == {"n2", "n3"} and set(r.reinitialised) == {"n5", "n6", "n11"}
    bn = m2.get_submodule(m2.node_modules["n3"])
    assert torch.all(bn.running_mean == 0.5)
    w1 = m1.get_submodule(m1.node_modules["n2"]).weight
    assert torch.equal(w1, m2.get_submodule(m2.node_modules["n2"]).weight)
