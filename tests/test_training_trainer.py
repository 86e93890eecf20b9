"""The Trainer: event stream, determinism, stop/resume, non-finite detection, threads."""
import threading

import torch

from netbuilder.training import Trainer
from netbuilder.training.events import (BatchEnd, CheckpointSaved, EpochEnd, Failed, Finished,
                                        Paused, ProbeSnapshot, Resumed, Started)

from training_util import plain, project, small_example


def weights(trainer):
    return {k: v.clone() for k, v in trainer.model.state_dict().items()}


def same(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_event_stream_is_ordered_plain_data(tmp_path):
    events = []
    r = Trainer(small_example("digits_cnn", epochs=2), out_dir=tmp_path, probe_every=5,
                callbacks=[events.append]).run()
    assert r.status == "completed" and r.test["accuracy"] > 0.8
    kinds = [type(e) for e in events]
    assert kinds[0] is Started and kinds[-1] is Finished
    batches = [e for e in events if isinstance(e, BatchEnd)]
    assert len(batches) == 2 * events[0].batches_per_epoch
    assert [e.step for e in batches] == list(range(1, len(batches) + 1))
    assert sum(isinstance(e, ProbeSnapshot) for e in events) == len(batches) // 5
    epochs = [e for e in events if isinstance(e, EpochEnd)]
    assert [e.epoch for e in epochs] == [0, 1] and "accuracy" in epochs[0].val
    saved = [e for e in events if isinstance(e, CheckpointSaved)]
    assert {e.kind for e in saved} == {"last", "best"}
    assert all(plain(e) for e in events), [e for e in events if not plain(e)][:1]
    assert events[-1].test == r.test and len(r.history) == 2


def test_same_seed_same_weights_and_probes_change_nothing():
    runs = []
    for probe_every in (0, 1, 0):
        t = Trainer(small_example("digits_cnn", epochs=1, seed=3), probe_every=probe_every)
        t.run()
        runs.append(weights(t))
    assert same(runs[0], runs[1]) and same(runs[0], runs[2])
    other = Trainer(small_example("digits_cnn", epochs=1, seed=4))
    other.run()
    assert not same(runs[0], weights(other))


def test_stop_mid_epoch_then_resume_equals_an_uninterrupted_run(tmp_path):
    # digits_cnn has Dropout (global RNG) and BatchNorm (running statistics): both must
    # continue exactly where they stopped.
    p = small_example("digits_cnn", epochs=2, schedule="onecycle", optimizer="sgd")
    whole = Trainer(p, out_dir=tmp_path / "whole")
    whole.run()

    first = Trainer(p, out_dir=tmp_path / "cut")
    first.callbacks.append(lambda e: isinstance(e, BatchEnd) and e.epoch == 0 and e.batch == 6
                           and first.stop())
    r = first.run()
    assert r.status == "stopped" and r.checkpoint.endswith("last")
    assert not same(weights(first), weights(whole))

    events = []
    second = Trainer(p, out_dir=tmp_path / "cut", callbacks=[events.append])
    r2 = second.run(resume_from=r.checkpoint)
    assert r2.status == "completed"
    assert events[0].start_epoch == 0 and events[0].start_batch == 7
    assert same(weights(second), weights(whole))
    opt_a, opt_b = whole.optimizer.state_dict(), second.optimizer.state_dict()
    assert all(torch.equal(opt_a["state"][i]["momentum_buffer"],
                           opt_b["state"][i]["momentum_buffer"]) for i in opt_a["state"])
    def strip(rows):  # timings differ; losses and accuracies must not
        return [{k: v for k, v in r.items() if k not in ("seconds", "samples_per_s")}
                for r in rows]
    assert strip(r2.history) == strip(whole.history)


def test_non_finite_loss_names_epoch_batch_and_layer():
    p = project([("Linear", {"out_features": 32}), "ReLU", ("Linear", {"out_features": 32}),
                 "ReLU", ("Linear", {"out_features": 1})], [1], "square", loss="mse",
                optimizer="sgd", lr=10.0, epochs=3, batch_size=32)
    p.graph.nodes["n2"].name = "hidden 1"
    events = []
    r = Trainer(p, callbacks=[events.append]).run()
    assert r.status == "failed"
    failed = events[-1]
    assert isinstance(failed, Failed) and failed.node_id == "n2"
    assert "at epoch 1, batch " in r.message
    assert "the first layer that went non-finite is 'hidden 1' (Linear, node n2)" in r.message
    assert "learning rate (10) is probably too high" in r.message


def test_pause_resume_and_stop_from_another_thread():
    events = []
    gate = threading.Event()

    def on_event(e):
        events.append(e)
        if isinstance(e, BatchEnd) and e.step == 3:
            trainer.pause()
            gate.set()
    trainer = Trainer(small_example("spirals_mlp", epochs=50), callbacks=[on_event])
    worker = threading.Thread(target=lambda: events.append(trainer.run()))
    worker.start()
    assert gate.wait(60)
    while not any(isinstance(e, Paused) for e in events):
        threading.Event().wait(0.01)
    n = len(events)
    threading.Event().wait(0.2)
    assert len(events) == n  # nothing happens while paused
    trainer.resume()
    while sum(isinstance(e, BatchEnd) for e in events) < 10:
        threading.Event().wait(0.01)
    trainer.stop()
    worker.join(60)
    assert any(isinstance(e, Resumed) for e in events)
    result = events[-1]
    assert result.status == "stopped" and result.epochs_done < 50


def test_background_thread_uses_one_torch_thread_and_restores_it():
    before = torch.get_num_threads()
    seen = []
    trainer = Trainer(small_example("spirals_mlp", epochs=1),
                      callbacks=[lambda e: isinstance(e, Started) and seen.append(e.threads)])
    t = threading.Thread(target=trainer.run)
    t.start()
    t.join(60)
    assert seen == [1] and torch.get_num_threads() == before


def test_a_failing_callback_is_reported_not_lost():
    def boom(e):
        if isinstance(e, EpochEnd):
            raise RuntimeError("plot widget gone")
    r = Trainer(small_example("spirals_mlp", epochs=2), callbacks=[boom]).run()
    assert r.status == "failed" and "plot widget gone" in r.message and r.traceback
