"""Where a sweep's trials train: a pool of local training processes (one trial each at a
time), or a Ray cluster (ray_runner.py). Both speak the same small protocol to the sweep:

    slot.start(number, project_json, out_dir)
    slot.poll() -> [TrialUpdate ...]     never blocks; a TrialUpdate with `done` ends the trial
    slot.stop()                          the trial stops at its next batch, keeping a checkpoint
    slot.close()

A local slot is training/worker.py's TrainingProcess, the same child the editor trains in:
it imports torch once and then trains trial after trial, so only the first trial of each
slot pays for the import. The Trainer trains on the CPU with one torch thread (its
threads="auto"), which is what lets K trials share K cores without slowing each other.
"""
from __future__ import annotations

import signal
import threading
from dataclasses import dataclass, field


class SweepError(ValueError):
    """A sweep that cannot start or resume; the message is meant for a person."""


@dataclass
class TrialUpdate:
    """What a trial did since the last poll: its newest batch, finished epochs, its end."""

    epochs: list = field(default_factory=list)  # (epoch, epochs, train dict, val dict)
    batch: tuple | None = None  # (epoch, epochs, batch, batches): the newest one
    done: bool = False
    status: str = ""  # when done: completed | stopped | failed
    history: list = field(default_factory=list)  # when done: metrics.csv rows
    test: dict = field(default_factory=dict)  # when done: test-split metrics
    message: str = ""  # when failed: for a person


class LocalSlot:
    """One training process, trained in trial after trial."""

    CHECKPOINT_EVERY_S = 30.0  # "last" at the end (and on stop) rather than every epoch
    # Progress 5 times a second, not the window's 30: K trials share K cores with this
    # process, so every wake-up here is taken from a trial.
    FLUSH_S = 0.2

    def __init__(self, device: str | None = None):
        from ..training.worker import TrainingProcess

        self.device = device
        # Ctrl-C in a terminal reaches every process of the group: the sweep alone decides
        # what a Ctrl-C means (stop cleanly), so the children ignore it (inherited).
        main = threading.current_thread() is threading.main_thread()
        old = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else None
        try:
            self.process = TrainingProcess()
        finally:
            if old is not None:
                signal.signal(signal.SIGINT, old)
        self.number: int | None = None
        self._epochs = 0

    @property
    def connection(self):
        return self.process.conn

    def start(self, number: int, project_json: str, out_dir: str) -> None:
        from ..training.worker import RunOptions

        if not self.process.alive:  # it died with the last trial: a fresh one
            self.__init__(self.device)
        self.number = number
        self.process.start(RunOptions(project_json, out_dir, self.device, None, probe_hz=0.0,
                                      checkpoint_every_s=self.CHECKPOINT_EVERY_S,
                                      flush_s=self.FLUSH_S))

    def poll(self) -> TrialUpdate:
        from ..training.events import BatchEnd, EpochEnd, Started
        from ..training.worker import Batch, Died, Done, Refused

        up = TrialUpdate()
        for m in self.process.receive():
            if isinstance(m, Batch):
                for e in m.events:
                    if isinstance(e, Started):
                        self._epochs = e.epochs
                    elif isinstance(e, BatchEnd):
                        up.batch = (e.epoch, self._epochs, e.batch, e.batches)
                    elif isinstance(e, EpochEnd):
                        up.epochs.append((e.epoch, e.epochs, dict(e.train), _plain(e.val)))
            elif isinstance(m, Done):
                r = m.result
                up.done, up.status, up.message = True, r.status, r.message
                up.history, up.test = list(r.history), _plain(r.test)
            elif isinstance(m, (Refused, Died)):
                up.done, up.status, up.message = True, "failed", m.message
        if up.done:
            self.number = None
        return up

    def stop(self) -> None:
        self.process.stop()

    def close(self) -> None:
        self.process.close()


def _plain(metrics: dict) -> dict:
    """The scalar metrics (a confusion matrix or per-class lists are left out)."""
    return {k: float(v) for k, v in metrics.items() if isinstance(v, (int, float))}


__all__ = ["LocalSlot", "TrialUpdate", "SweepError"]
