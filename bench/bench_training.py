"""Training throughput: the Trainer against a plain hand-written PyTorch loop on the same
model and data, with and without probes, and in a background thread against the main thread.

Each figure is the best of REPEATS alternating runs (this machine's load varies). Samples/s
counts training samples; both loops also evaluate the validation split every epoch, as a
training script would. Both use one torch thread (the Trainer's "auto" setting on CPU).
"""
from __future__ import annotations

import threading
import time

import torch
import torch.nn.functional as F

from netbuilder.api import compile, example
from netbuilder.training import Trainer
from netbuilder.training.events import Finished, Started
from netbuilder.training.probes import DEFAULT_EVERY

EXAMPLE, EPOCHS, REPEATS = "digits_cnn", 6, 3


def _project():
    p = example(EXAMPLE)
    p.training = p.training.model_copy(update={"epochs": EPOCHS})
    return p


def trainer_rate(probe_every: int, in_thread: bool = False, project=None) -> float:
    """Training samples/s of Trainer.run, from its Started to its Finished event."""
    marks = {}

    def on(e):
        if isinstance(e, (Started, Finished)):
            marks[type(e).__name__] = time.perf_counter()
    project = project or _project()
    trainer = Trainer(project, probe_every=probe_every, callbacks=[on], tensorboard=False)
    trainer.prepare()
    if in_thread:
        t = threading.Thread(target=trainer.run)
        t.start()
        t.join()
    else:
        trainer.run()
    epochs = project.training.epochs
    return len(trainer.data.train) * epochs / (marks["Finished"] - marks["Started"])


def handwritten_rate() -> float:
    """The loop a person would write by hand around the same compiled module and tensors."""
    project = _project()
    s = project.training
    probe = Trainer(project)
    probe.prepare()  # the same prepared tensors the Trainer uses
    data = probe.data
    xs, ys = data.train.x, data.train.y
    vx, vy = data.val.x, data.val.y
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        torch.manual_seed(s.seed)
        model = compile(project, seed=s.seed)
        opt = torch.optim.Adam(model.parameters(), lr=s.lr)
        t0 = time.perf_counter()
        for epoch in range(EPOCHS):
            model.train()
            order = torch.randperm(len(ys))
            running = 0.0
            for i in range(0, len(ys) - 1, s.batch_size):
                idx = order[i:i + s.batch_size]
                opt.zero_grad()
                loss = F.cross_entropy(model(xs[idx]), ys[idx])
                loss.backward()
                opt.step()
                running += loss.item()
            model.eval()
            with torch.no_grad():
                F.cross_entropy(model(vx), vy).item()
        return len(ys) * EPOCHS / (time.perf_counter() - t0)
    finally:
        torch.set_num_threads(old)


def _best(fn, *args) -> float:
    return max(fn(*args) for _ in range(REPEATS))


def throughput():
    hand = _best(handwritten_rate)
    plain = _best(trainer_rate, 0)
    probed = _best(trainer_rate, DEFAULT_EVERY)
    yield "training.handwritten.samples_per_s", round(hand)
    yield "training.trainer.samples_per_s", round(plain)
    yield "training.trainer_probes.samples_per_s", round(probed)
    yield "training.trainer_vs_handwritten", round(plain / hand, 3)
    yield f"training.trainer_probes_every_{DEFAULT_EVERY}_vs_handwritten", round(probed / hand, 3)


def threads():
    main = _best(trainer_rate, DEFAULT_EVERY, False)
    background = _best(trainer_rate, DEFAULT_EVERY, True)
    yield "training.thread.samples_per_s", round(background)
    yield "training.main.samples_per_s", round(main)
    yield "training.thread_vs_main", round(background / main, 3)


def benchmarks():
    return [throughput, threads]


if __name__ == "__main__":
    for bench in benchmarks():
        for name, value in bench():
            print(f"{name}: {value}")
