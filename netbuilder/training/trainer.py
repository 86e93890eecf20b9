"""The Trainer: trains a project's compiled graph on its dataset, with no Qt.

    trainer = Trainer(project, out_dir="runs/digits", callbacks=[print])
    result = trainer.run()              # blocking; call it from any thread
    trainer.pause() / .resume() / .stop()   # from any thread; act at a batch boundary

Events (see events.py) go to every callback, on the training thread, as plain data.

Threads. torch's intra-op thread pool is process-wide. Measured on 2 cores: a loop in a
worker thread at torch's default ran at 0.42x the main-thread speed (full speed with one
thread), and even on the main thread two threads were up to 4x slower than one whenever
another process kept the cores busy, for a gain of ~13% on an idle machine. netbuilder's
models are small, so `threads="auto"` (the default) runs CPU training with one intra-op
thread, on any thread; an int sets that many; None leaves torch's setting alone. The
previous value is restored when run() returns (set_num_threads is process-wide, so other
torch work in the process runs with the same setting meanwhile).

Determinism. Everything random derives from the project's seed: the weights (seeded
compile), the data split, each epoch's shuffle (its own generator per epoch, so resuming
mid-epoch reproduces the order) and dropout/augmentation (torch's global generator, whose
state is saved in checkpoints). Two runs with the same seed, device and thread count end
with identical weights, and so does a run that was stopped and resumed. The global
generator is shared by the process: don't draw from it elsewhere while a run is going.
"""
from __future__ import annotations

import contextlib
import copy
import math
import threading
import time
import traceback
from pathlib import Path

import torch

from ..core.compiler import compile_graph
from ..core.project import Project
from ..data import DataError, load as load_data
from ..core.files import check_room, explain
from . import checkpoint as ckpt
from . import checkpoint_slots as slots
from .config import PER_BATCH, TrainingConfigError, adapt_target, check, make_loss, \
    make_optimizer, make_scheduler
from .events import (BatchEnd, CheckpointSaved, EpochEnd, Failed, Finished, Paused,
                     Result, Resumed, Started)
from .history import HistoryWriter, row
from .metrics import evaluate, predict_classes
from .probes import DEFAULT_EVERY, Prober, first_nonfinite
from .init_weights import load_initial
from .resume_check import difference, fingerprint, optimizer_difference
from .tuning import apply_tuning

PROBE_SAMPLES = 64


def _cpu_copy(obj):
    """A deep copy with every tensor copied to the CPU."""
    if isinstance(obj, torch.Tensor):
        return obj.detach().to("cpu", copy=True)
    if isinstance(obj, dict):
        return obj.__class__((k, _cpu_copy(v)) for k, v in obj.items())
    if isinstance(obj, (list, tuple)):
        return type(obj)(_cpu_copy(v) for v in obj)
    return copy.deepcopy(obj)


def epoch_order(seed: int, epoch: int, n: int) -> torch.Tensor:
    """The shuffle of epoch `epoch`: a function of (seed, epoch) only."""
    g = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    return torch.randperm(n, generator=g)


def batches_per_epoch(n: int, batch_size: int) -> int:
    # A trailing batch of one sample is dropped: BatchNorm cannot train on it.
    return n // batch_size + (1 if n % batch_size > 1 else 0)


class Trainer:
    def __init__(self, project: Project, *, out_dir=None, epochs: int | None = None,
                 device: str | None = None, callbacks=(), probe_every: int = DEFAULT_EVERY,
                 threads: int | str | None = "auto", tensorboard: bool = True,
                 checkpoint_every_s: float = 0.0, data_progress=None,
                 memory: int | None = None):
        settings = project.training
        if epochs is not None:
            if not 1 <= epochs <= 100_000:
                raise TrainingConfigError(f"epochs must be between 1 and 100000, not {epochs}")
            settings = settings.model_copy(update={"epochs": epochs})
        self.project, self.settings = project, settings
        self.out_dir = Path(out_dir) if out_dir else None
        self.device_wanted = device
        self.callbacks = list(callbacks)
        self.probe_every, self.threads, self.tensorboard = probe_every, threads, tensorboard
        self.data_progress = data_progress  # progress(message, fraction) of a long data load
        # 0: write "last" (and "best" when it improved) after every epoch. > 0: at most that
        # often, plus always at the end, on stop, pause and failure; a better epoch in between
        # is kept in memory and written then. The GUI uses this: on small models an epoch
        # takes ~0.1 s and two checkpoint writes per epoch cost a quarter of the time.
        self.checkpoint_every_s = checkpoint_every_s
        self.memory = memory  # bytes a step must fit in (default: the device's memory)
        self._go = threading.Event()
        self._go.set()
        self._stop = threading.Event()
        self._parked = threading.Event()  # set while the training thread waits in a pause
        # replace_project holds this while it swaps the graph; a parked run takes it before
        # it goes on, so a swap never overlaps a training step
        self._swap = threading.Lock()
        self._started = False  # Started was emitted: later problems are failures of the run
        self._pending_best = None  # a better epoch not yet written (checkpoint_every_s)
        self._saving = False  # inside a checkpoint write: an abort waits for its end
        self._abort_after_save = False
        self.notices: list[str] = []  # for a person: recovered leftovers and the like
        self.data = self.plan = self.model = None

    # ---- control, from any thread --------------------------------------------------------

    def pause(self) -> bool:
        """Pause at the next batch boundary. True when the run is parked already (paused,
        resumed and paused again before it moved): then no new Paused event comes."""
        with self._swap:  # consistent with a parked run deciding whether to go on
            self._go.clear()
            return self._parked.is_set()

    def resume(self) -> None:
        self._go.set()

    def stop(self) -> None:
        self._stop.set()
        self._go.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    @property
    def saving(self) -> bool:
        """True while a checkpoint is being written."""
        return self._saving

    def abort_after_save(self) -> None:
        """From a signal handler during a save: raise KeyboardInterrupt once the
        checkpoint being written is complete (an abort never leaves half a checkpoint)."""
        self._abort_after_save = True

    @property
    def parked(self) -> bool:
        """True while the run waits in a pause (after its Paused event, before Resumed)."""
        return self._parked.is_set()

    def replace_project(self, project: Project):
        """While parked in a pause: train `project`'s (edited) graph from here on, keeping
        the weights and optimizer state of unchanged layers (see carryover.py). Returns a
        CarryReport; raises TrainingConfigError, leaving the run as it was, when the new
        graph cannot train. Call from any thread, then resume()."""
        from .carryover import swap_graph

        with self._swap:
            if not self._parked.is_set():
                raise RuntimeError("replace_project needs a paused run (wait for Paused)")
            return swap_graph(self, project)

    # ---- setup ------------------------------------------------------------------------------

    def prepare(self):
        """Load the data and check every setting; raises DataError or TrainingConfigError
        (messages for a person) before anything trains. Idempotent."""
        if self.plan is None:
            ds = self.project.dataset
            if ds is None:
                raise TrainingConfigError("the project has no dataset; choose one (e.g. "
                                          "'digits') in the project's dataset field")
            self.data = load_data(ds.name, ds.options, seed=self.settings.seed,
                                  progress=self.data_progress)
            plan = check(self.project.graph, self.settings, self.data.info, ds.name,
                         self.device_wanted)
            self._refuse_if_too_big(plan)
            self.plan = plan
        return self.plan

    def _refuse_if_too_big(self, plan) -> None:
        """The pre-flight estimate of one step's peak (fake tensors, nothing allocated)
        against the device's memory: refuse with the numbers instead of being killed."""
        from ..preflight.memory import refusal
        from ..preflight.step import PreflightError, Setup

        what = "this machine"
        have = self.memory
        if have is None and plan.device == "cuda":
            have, what = torch.cuda.mem_get_info()[1], "the GPU"
        if have is None:
            from ..core.budget import machine_memory
            have = machine_memory()
        try:
            msg = refusal(Setup(self.project, self.settings, self.data.info, plan), have, what)
        except PreflightError:  # a layer fake tensors cannot run: the quick check stands
            return
        if msg:
            raise TrainingConfigError(f"cannot train here: {msg}; nothing was allocated")

    def _emit(self, event) -> None:
        for cb in self.callbacks:
            cb(event)

    # ---- the run ---------------------------------------------------------------------------

    def run(self, resume_from=None) -> Result:
        """Train to the end, until stop(), or until it fails. Configuration problems raise
        (DataError, TrainingConfigError, CheckpointError) before training starts; problems
        while training are reported as a Failed event and a Result with status 'failed'."""
        self.prepare()
        old_threads = torch.get_num_threads()
        n = self.threads
        if n == "auto":
            n = 1 if self.plan.device == "cpu" else None
        if n:
            torch.set_num_threads(n)
        try:
            self._setup(resume_from)
            return self._loop()
        except (DataError, TrainingConfigError, ckpt.CheckpointError) as e:
            if not self._started:
                raise  # a setup problem: nothing has trained
            return self._crashed(e)  # e.g. a checkpoint could not be written mid-run
        except Exception as e:  # noqa: BLE001 (reported as an event, not lost in a thread)
            return self._crashed(e)
        except BaseException:  # Ctrl-C twice: no thread of ours may print a traceback later
            self._close_writer()
            raise
        finally:
            if self.data is not None:
                self.data.close()  # a streamed dataset's decoding processes
            if n:
                torch.set_num_threads(old_threads)

    def _close_writer(self) -> None:
        writer = getattr(self, "writer", None)
        if writer is not None:
            try:
                writer.close()
            except Exception:  # noqa: BLE001 (the disk may be the problem)
                pass

    def _crashed(self, e: Exception) -> Result:
        """An unexpected error while training: report it, keep what can be kept."""
        if isinstance(e, OSError):  # the environment's: a full disk, no permission
            msg = f"training stopped: {explain(e, getattr(e, 'filename', None) or self.out_dir)}"
        elif isinstance(e, ckpt.CheckpointError):
            msg = f"training stopped: {e}"
        else:
            msg = f"training failed: {type(e).__name__}: {e}"
        tb = traceback.format_exc()
        try:
            if self.out_dir is not None and self._pending_best is not None:
                self._flush_best()  # the best epoch so far is still good
        except Exception:  # noqa: BLE001 (the disk may be the problem)
            pass
        self._close_writer()
        try:
            self._emit(Failed(msg))
        except Exception:  # noqa: BLE001 (a broken callback must not hide the failure)
            pass
        return Result("failed", message=msg, traceback=tb)

    def _setup(self, resume_from) -> None:
        s, plan, data = self.settings, self.plan, self.data
        torch.manual_seed(s.seed)
        self.model = model = compile_graph(self.project.graph, seed=s.seed).to(plan.device)
        self.loss_fn = make_loss(s, plan)
        if s.init_weights and resume_from is None:  # a resumed run has its own weights
            self.notices += load_initial(model, s.init_weights).lines()
        self.optimizer = make_optimizer(s, apply_tuning(model, self.project.graph, s.lr))
        self.nb = batches_per_epoch(len(data.train), s.batch_size)
        self.scheduler = make_scheduler(s, self.optimizer, s.epochs, self.nb)
        self.scaler = torch.amp.GradScaler("cuda") if plan.mixed_precision else None
        self.epoch = self.batch = self.step = 0
        self.partial = [0, 0.0, 0]  # this epoch so far: samples, loss sum, correct
        self.history: list[dict] = []
        self.best: float | None = None
        if self.out_dir is not None:
            self._check_out_dir()
        if resume_from is not None:
            self._restore(resume_from)
        probe_split = data.val if len(data.val) else data.train
        probe_x = data.batch(probe_split, slice(0, PROBE_SAMPLES))[0].to(plan.device)
        self.prober = Prober(model, self.project.graph, probe_x, self.probe_every)
        self.writer = HistoryWriter(self.out_dir, self.tensorboard)
        self._last_write = time.perf_counter()
        self._pending_best = None

    def _check_out_dir(self) -> None:
        """Before anything trains: the output location is a writable folder with room for
        a checkpoint, nothing foreign sits where the checkpoints go, and an interrupted
        save of an earlier run is recovered."""
        folder = self.out_dir / "checkpoints"
        need = ckpt.estimate_bytes(self.model, self.settings.optimizer, self.project.to_json())
        try:
            check_room(folder, need, "the checkpoints")
            self.notices += slots.recover(folder)
            for kind in ("last", "best"):
                slots.refuse_foreign(folder / kind)
        except OSError as e:
            raise ckpt.CheckpointError(explain(e, self.out_dir, need)) from None

    def _restore(self, path) -> None:
        c = ckpt.load(path)
        why = difference(c.project_text, self.project)
        if why:
            raise ckpt.CheckpointError(
                f"{path}: this checkpoint belongs to another run ({why}); resuming it would "
                f"mix two runs' weights and history. Resume with the project it was trained "
                f"with, or start a new run (leave out --resume)")
        why = optimizer_difference(c.project_text, self.project)
        if why:
            raise ckpt.CheckpointError(
                f"{path}: {why}; the saved optimizer state cannot continue with another "
                f"optimizer or schedule. Set them back to resume, or start a new run")
        try:
            self.model.load_state_dict(c.model)
        except RuntimeError as e:
            first = str(e).splitlines()
            raise ckpt.CheckpointError(f"{path}: the checkpoint's weights do not fit this "
                                       f"graph ({' '.join(first[1:3]).strip()})") from None
        try:
            self.optimizer.load_state_dict(c.optimizer)
            if self.scheduler is not None and c.scheduler is not None:
                self.scheduler.load_state_dict(c.scheduler)
        except (ValueError, KeyError, TypeError, IndexError) as e:
            raise ckpt.CheckpointError(f"{path}: the optimizer state does not fit these "
                                       f"settings ({type(e).__name__}: {e}); was it made with "
                                       f"another optimizer, or other frozen layers?"
                                       ) from None
        if "torch_cpu" in c.rng:
            torch.set_rng_state(c.rng["torch_cpu"])
        if "torch_cuda" in c.rng and self.plan.device == "cuda":
            torch.cuda.set_rng_state(c.rng["torch_cuda"])
        st = c.state
        self.epoch, self.batch, self.step = st["epoch"], st["batch"], st["step"]
        self.history, self.best = st.get("history", []), st.get("best_val_loss")
        self.partial = list(st.get("partial", self.partial))
        if self.batch >= self.nb:
            self.epoch, self.batch = self.epoch + 1, 0

    def _state(self) -> dict:
        return {"epoch": self.epoch, "batch": self.batch, "step": self.step,
                "history": list(self.history), "best_val_loss": ckpt.finite(self.best),
                "partial": list(self.partial), "seed": self.settings.seed,
                "epochs": self.settings.epochs, "fingerprint": fingerprint(self.project)}

    def _save(self, kind: str) -> str | None:
        if self.out_dir is None:
            return None
        with self._writing():
            path = ckpt.save(self.out_dir / "checkpoints" / kind, self.model, self.optimizer,
                             self.scheduler, self._state(), self.project.to_json(),
                             self._rng_state())
        if kind == "last":
            self._last_write = time.perf_counter()
        self._emit(CheckpointSaved(str(path), kind, self.epoch, self.batch))
        return str(path)

    def _stage_best(self) -> None:
        """Keep this moment in memory, to be written as "best" by _flush_best."""
        if self.out_dir is None:
            return
        sched = self.scheduler
        self._pending_best = (  # copies on the CPU: no second copy in GPU memory
            ckpt.Frozen(_cpu_copy(self.model.state_dict())),
            ckpt.Frozen(_cpu_copy(self.optimizer.state_dict())),
            ckpt.Frozen(_cpu_copy(sched.state_dict())) if sched is not None else None,
            self._state(), self.project.to_json(),
            {k: v.clone() for k, v in self._rng_state().items()})

    def _flush_best(self) -> None:
        staged, self._pending_best = self._pending_best, None
        if staged is not None:
            with self._writing():
                path = ckpt.save(self.out_dir / "checkpoints" / "best", *staged)
            st = staged[3]
            self._emit(CheckpointSaved(str(path), "best", st["epoch"], st["batch"]))

    @contextlib.contextmanager
    def _writing(self):
        self._saving = True
        try:
            yield
        finally:
            self._saving = False
        if self._abort_after_save:
            raise KeyboardInterrupt

    def _save_now(self) -> str | None:
        """On stop, pause (when writes are paced) and failure: "last" and a staged "best"."""
        path = self._save("last")
        self._flush_best()
        return path

    def _rng_state(self) -> dict:
        rng = {"torch_cpu": torch.get_rng_state()}
        if self.plan.device == "cuda":
            rng["torch_cuda"] = torch.cuda.get_rng_state()
        return rng

    def _wait_if_paused(self) -> None:
        if self._go.is_set() or self._stop.is_set():
            return
        if self.checkpoint_every_s > 0:
            self._save_now()  # a paused run may be edited, and then fail: keep this one
        self._parked.set()
        self._emit(Paused(self.epoch, self.batch))
        while True:  # a resume and a new pause may both come before this thread wakes
            self._go.wait()
            with self._swap:  # not while replace_project swaps the graph
                if self._go.is_set() or self._stop.is_set():
                    self._parked.clear()
                    break
        self._emit(Resumed(self.epoch, self.batch))

    def _loop(self) -> Result:
        s, plan, data, model = self.settings, self.plan, self.data, self.model
        dev, classify = plan.device, data.info.is_classification
        t_run = time.perf_counter()
        last_ckpt = None
        self._started = True
        self._emit(Started(s.epochs, self.nb, self.epoch, self.batch, dev,
                           torch.get_num_threads(), sum(p.numel() for p in model.parameters()),
                           len(data.train), len(data.val), len(data.test)))
        model.train()
        nothing_to_do = self.epoch >= s.epochs
        while self.epoch < s.epochs:
            order = epoch_order(s.seed, self.epoch, len(data.train))
            t0 = time.perf_counter()
            seen, loss_sum, correct = self.partial
            seen0 = seen  # samples before a resume: not part of this session's speed
            # a streamed dataset decodes this epoch's batches ahead, in this order
            batches = data.batches(data.train, order, s.batch_size, self.batch, self.nb,
                                   train=True)
            while self.batch < self.nb:
                self._wait_if_paused()
                if self._stop.is_set():
                    return self._stopped(t_run)
                x, y = next(batches)
                if not len(y):  # every file of this batch turned out unreadable
                    self.batch += 1
                    continue
                x, y = x.to(dev, non_blocking=True), y.to(dev, non_blocking=True)
                out, loss = self._step(x, y)
                value = loss.item()
                if not math.isfinite(value):
                    return self._failed(value, x, t_run)
                k = len(y)
                seen += k
                loss_sum += value * k
                acc = None
                if classify:
                    hits = int((predict_classes(out.detach(), self.plan) == y).sum())
                    correct += hits
                    acc = hits / k
                self.batch += 1
                self.step += 1
                self.partial = [seen, loss_sum, correct]
                rate = (seen - seen0) / max(1e-9, time.perf_counter() - t0)
                self._emit(BatchEnd(self.epoch, self.batch - 1, self.nb, self.step, value, acc,
                                    self.optimizer.param_groups[0]["lr"], rate))
                if self._probe_due:
                    self._emit(self.prober.snapshot(self.epoch, self.batch - 1, self.step))
            train = {"loss": loss_sum / max(1, seen)}
            if classify:
                train["accuracy"] = correct / max(1, seen)
            self.partial = [0, 0.0, 0]
            last_ckpt = self._end_epoch(train, time.perf_counter() - t0, seen - seen0) or last_ckpt
        test = evaluate(self.model, data, data.test, self.plan, self.loss_fn, dev)
        skipped = getattr(data, "skipped", None)  # files found unreadable while streaming
        if skipped:
            self.notices.append(skipped.report(self.project.dataset.options.get("path")))
        self.writer.close()
        seconds = time.perf_counter() - t_run
        self._emit(Finished("completed", self.epoch, test, self.best, seconds))
        return Result("completed", self.epoch, test, self.history, checkpoint=last_ckpt,
                      best_val_loss=self.best, nothing_to_do=nothing_to_do,
                      notices=list(self.notices))

    def _step(self, x, y):
        model, opt, plan = self.model, self.optimizer, self.plan
        self._probe_due = self.prober.due(self.step + 1)  # steps count from 1
        opt.zero_grad(set_to_none=True)
        if self.scaler is not None:
            with torch.autocast("cuda", dtype=torch.float16):
                out = model(x)
            loss = self.loss_fn(out.float(), adapt_target(y, plan))
            self.scaler.scale(loss).backward()
            if self._probe_due:
                self.prober.before_step()
            self.scaler.step(opt)
            self.scaler.update()
        else:
            out = model(x)
            loss = self.loss_fn(out, adapt_target(y, plan))
            loss.backward()
            if self._probe_due:
                self.prober.before_step()
            opt.step()
        if self.scheduler is not None and self.settings.schedule in PER_BATCH:
            self.scheduler.step()
        return out, loss

    def _end_epoch(self, train: dict, seconds: float, seen: int) -> str | None:
        s, data = self.settings, self.data
        val = evaluate(self.model, data, data.val, self.plan, self.loss_fn, self.plan.device)
        lr = self.optimizer.param_groups[0]["lr"]
        if self.scheduler is not None and s.schedule not in PER_BATCH:
            if s.schedule == "plateau":
                self.scheduler.step(val.get("loss", train["loss"]))
            else:
                self.scheduler.step()
        rate = seen / max(1e-9, seconds)
        self.history.append(row(self.epoch, train, val, lr, seconds, rate))
        self.writer.write(self.history)
        self._emit(EpochEnd(self.epoch, s.epochs, train, val, lr, seconds, rate))
        score = val.get("loss", train["loss"])
        self.epoch, self.batch = self.epoch + 1, 0
        improved = self.best is None or score < self.best
        if improved:
            self.best = score
        every = self.checkpoint_every_s
        due = (every <= 0 or self.epoch >= s.epochs
               or time.perf_counter() - self._last_write >= every)
        if improved:
            self._stage_best()
        if not due:
            return None
        path = self._save("last")
        self._flush_best()
        return path

    def _stopped(self, t_run: float) -> Result:
        path = self._save_now()
        self.writer.close()
        self._emit(Finished("stopped", self.epoch, {}, self.best, time.perf_counter() - t_run))
        return Result("stopped", self.epoch, {}, self.history, checkpoint=path,
                      best_val_loss=self.best)

    def _failed(self, value: float, x: torch.Tensor, t_run: float) -> Result:
        place, layer, reason = first_nonfinite(self.model, self.project.graph, x)
        what = "NaN" if math.isnan(value) else "infinite"
        where = f"epoch {self.epoch + 1}, batch {self.batch + 1}"
        if place is not None:
            at = f"; the first layer that went non-finite is {layer}: {reason}"
        else:
            at = "; every layer's output is finite, so the loss itself overflowed"
        msg = (f"the loss became {what} at {where}{at}. The learning rate "
               f"({self.settings.lr:g}) is probably too high: lower it, or add normalization "
               f"(BatchNorm/LayerNorm) before that layer")
        if self.out_dir is not None:
            self._flush_best()  # the best epoch so far is still good; "last" may not be
        self.writer.close()
        self._emit(Failed(msg, self.epoch, self.batch, place))
        return Result("failed", self.epoch, {}, self.history, message=msg,
                      best_val_loss=self.best)
