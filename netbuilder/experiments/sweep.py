"""A sweep: Optuna picks the values, K trials train at once, hopeless ones are pruned.

    sweep = Sweep(project, parse_space(project, ["lr=1e-4:1e-1:log"]), "sweeps/lr",
                  SweepOptions(trials=8, parallel=2))
    sweep.run()                  # blocking (the CLI); or start() and poll() from a timer
    sweep.stop()                 # running trials stop at their next batch

The sweep's folder:

    DIR/sweep.db            Optuna's storage (SQLite): resuming reads it
    DIR/project.json        the project the sweep started from
    DIR/results.csv         one row per trial: parameters, status, metrics, seconds
    DIR/trials/NNNN/        one folder per trial: project.json (its snapshot), metrics.csv,
                            checkpoints/last and best

The study lives in this process only (ask-and-tell): the trials' processes report their
epochs over their pipes, this process reports them to Optuna and stops a trial the pruner
gives up on. So the SQLite file has one writer, and a crash loses at most the trials that
were running. Those, and trials stopped by stop() (Ctrl-C), are "interrupted": they are
not results, and a resumed sweep trains their values again before asking for new ones.
Finished trials are never trained again.
"""
from __future__ import annotations

import csv
import io
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..core.files import atomic_write
from ..core.project import Project, parse_project
from .runners import SweepError
from .space import Dimension, apply

STUDY = "netbuilder-sweep"
CLASSIFY_LOSSES = {"cross_entropy", "nll", "bce", "bce_with_logits", "hinge"}
METRICS = {"val_accuracy": "maximize", "val_loss": "minimize"}


@dataclass
class SweepOptions:
    trials: int = 8
    parallel: int = 1
    sampler: str = "tpe"  # tpe | random | grid
    metric: str | None = None  # val_accuracy | val_loss; None: by the project's loss
    device: str | None = None
    ray_address: str | None = None  # run the trials on this Ray cluster ("auto", "local")
    prune: bool = True


@dataclass
class TrialState:
    number: int
    values: dict  # Dimension.key -> value
    folder: Path
    status: str = "running"  # running | completed | pruned | failed | interrupted
    epoch: int = 0  # epochs done
    epochs: int = 0
    progress: float = 0.0  # 0..1 of the whole trial
    history: list = field(default_factory=list)  # (epoch, val dict) as reported
    metrics: dict = field(default_factory=dict)  # for results.csv
    seconds: float = 0.0
    message: str = ""
    started: float = 0.0
    pruning: bool = False  # stop() was sent because the pruner gave up on it


class Sweep:
    def __init__(self, project: Project, dims: list[Dimension], out_dir, options: SweepOptions):
        if not 1 <= options.trials <= 100_000:
            raise SweepError(f"--trials must be between 1 and 100000, not {options.trials}")
        if not 1 <= options.parallel <= 256:
            raise SweepError(f"--parallel must be between 1 and 256, not {options.parallel}")
        if options.sampler not in ("tpe", "random", "grid"):
            raise SweepError(f"--sampler must be tpe, random or grid, not {options.sampler!r}")
        self.project = parse_project(project.to_json(), "the project")  # edits don't leak in
        self.dims, self.options = dims, options
        self.out = Path(out_dir)
        self.metric = options.metric or ("val_accuracy" if project.training.loss in
                                         CLASSIFY_LOSSES else "val_loss")
        if self.metric not in METRICS:
            raise SweepError(f"--metric must be val_accuracy or val_loss, not {self.metric!r}")
        self.direction = METRICS[self.metric]
        if options.sampler == "grid":
            ranges = [d.name for d in dims if d.kind != "choice"]
            if ranges:
                raise SweepError(f"--sampler grid tries every combination of lists; "
                                 f"{', '.join(ranges)} is a range (give a list a,b,c, or "
                                 f"use --sampler tpe or random)")
        self.trials: dict[int, TrialState] = {}  # this session's and the finished ones
        self.slots: list = []
        self.running: dict[int, object] = {}  # trial number -> slot
        self.study = None
        self.stopping = False
        self.notes: list[str] = []  # for a person: resumed trials, a capped grid ...
        self._live: dict[int, object] = {}  # trial number -> optuna Trial (asked, not told)

    # ---- set-up and resume ------------------------------------------------------------

    def start(self) -> None:
        """Open (or resume) the study; start nothing yet: poll() fills the slots."""
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self._check_folder()
        if self.options.ray_address:  # before anything is written: it may not connect
            self.slots = self._make_slots()
        self.out.mkdir(parents=True, exist_ok=True)
        self._lock()
        db = self.out / "sweep.db"
        try:
            storage = optuna.storages.RDBStorage(f"sqlite:///{db.resolve()}")
            self.study = optuna.create_study(
                study_name=STUDY, storage=storage, load_if_exists=True,
                direction=self.direction, sampler=self._sampler(),
                pruner=optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=2)
                if self.options.prune else optuna.pruners.NopPruner())
        except ValueError as e:  # the study there optimises the other way
            self._unlock()
            raise SweepError(f"{self.out}: holds a sweep by another metric ({e}); to resume "
                             f"it give the same --param and --metric, or choose another "
                             f"--out for a new sweep") from None
        except Exception as e:  # noqa: BLE001 (SQLAlchemy's many errors: a damaged file)
            self._unlock()
            raise SweepError(f"{db}: cannot be read as a sweep's storage ({type(e).__name__}"
                             f"); it is left as it is: choose another --out") from None
        try:
            self._check_same_sweep()
        except SweepError:
            self._unlock()
            raise
        if not (self.out / "project.json").exists():
            atomic_write(self.out / "project.json", self.project.to_json())
        self._recover()
        if self.options.sampler == "grid":
            size = 1
            for d in self.dims:
                size *= len(d.choices)
            if self.options.trials > size:
                self.notes.append(f"the grid has {size} combination(s): {size} trials, "
                                  f"not {self.options.trials}")
                self.options.trials = size
        if not self.options.ray_address:
            self.slots = self._make_slots()
        self.write_results()

    def _sampler(self):
        import optuna

        seed = self.project.training.seed
        if self.options.sampler == "random":
            return optuna.samplers.RandomSampler(seed=seed)
        if self.options.sampler == "grid":
            return optuna.samplers.GridSampler({d.key: list(d.choices) for d in self.dims},
                                               seed=seed)
        return optuna.samplers.TPESampler(seed=seed)

    def _check_folder(self) -> None:
        if self.out.exists() and not self.out.is_dir():
            raise SweepError(f"{self.out}: exists and is not a folder; choose another --out")
        if (self.out.is_dir() and any(self.out.iterdir())
                and not (self.out / "sweep.db").is_file()):
            raise SweepError(f"{self.out}: is a folder that holds no sweep (no sweep.db); "
                             f"nothing in it is touched: choose another --out")

    def _lock(self) -> None:
        lock = self.out / "sweep.lock"
        try:
            pid = int(lock.read_text().strip())
        except (OSError, ValueError):
            pid = None
        if pid and pid != os.getpid() and _alive(pid):
            raise SweepError(f"{self.out}: another sweep is running in this folder (process "
                             f"{pid}); wait for it, or stop it first")
        atomic_write(lock, f"{os.getpid()}\n")

    def _check_same_sweep(self) -> None:
        space = {d.key: d.spec_text() for d in self.dims}
        attrs = self.study.user_attrs
        if "space" not in attrs:
            self.study.set_user_attr("space", space)
            self.study.set_user_attr("metric", self.metric)
            self.study.set_user_attr("names", {d.key: d.name for d in self.dims})
            return
        if attrs["space"] != space or attrs.get("metric") != self.metric:
            was = ", ".join(f"{attrs.get('names', {}).get(k, k)}={v}"
                            for k, v in attrs["space"].items())
            raise SweepError(f"{self.out}: holds a sweep of {was} by {attrs.get('metric')}; "
                             f"to resume it give the same --param and --metric, or choose "
                             f"another --out for a new sweep")

    def _recover(self) -> None:
        """Trials a crash left running, and trials stopped before their end: their values
        go back into the queue (once); finished trials are loaded as results."""
        from optuna.trial import TrialState as S

        for t in self.study.get_trials(deepcopy=False):
            attrs = t.user_attrs
            if t.state == S.RUNNING:  # this folder's lock was ours or dead: a crash
                self.study._storage.set_trial_user_attr(t._trial_id, "interrupted", True)
                self.study._storage.set_trial_state_values(t._trial_id, S.FAIL)
                attrs = {**attrs, "interrupted": True}
            if attrs.get("interrupted"):
                if t.number not in self.study.user_attrs.get("requeued", []):
                    self._requeue(t.number, t.params)
                    self.notes.append(f"trial {t.number} was interrupted: its values are "
                                      f"trained again")
                continue
            if t.state in (S.COMPLETE, S.PRUNED, S.FAIL):
                st = TrialState(t.number, dict(t.params), self._folder(t.number),
                                status=attrs.get("status", t.state.name.lower()),
                                metrics=dict(attrs.get("metrics", {})),
                                seconds=float(attrs.get("seconds", 0.0)),
                                message=attrs.get("message", ""))
                st.progress = 1.0
                self.trials[t.number] = st

    def _requeue(self, number: int, params: dict) -> None:
        """Train these values again, once (the study remembers which trials it re-queued:
        a finished trial's own attributes cannot change)."""
        self.study.enqueue_trial(params, skip_if_exists=False)
        done = self.study.user_attrs.get("requeued", [])
        self.study.set_user_attr("requeued", [*done, number])

    def _make_slots(self) -> list:
        if self.options.ray_address:
            from .ray_runner import ray_slots

            return ray_slots(self.options.ray_address, self.options.parallel,
                             self.options.device)
        from .runners import LocalSlot

        # started now: they import torch while Optuna and the first trial are set up
        left = max(0, self.options.trials - self.finished_count)
        return [LocalSlot(self.options.device) for _ in range(min(self.options.parallel, left))]

    # ---- running --------------------------------------------------------------------------

    @property
    def finished_count(self) -> int:
        return sum(t.status in ("completed", "pruned", "failed") for t in self.trials.values())

    @property
    def done(self) -> bool:
        if self.running:
            return False
        return self.stopping or self.finished_count >= self.options.trials

    def poll(self) -> list[TrialState]:
        """Read every trial's news, report it to Optuna, start trials in free slots.
        Returns the trials that changed."""
        changed = []
        for number, slot in list(self.running.items()):
            up = slot.poll()
            if up.epochs or up.batch or up.done:
                changed.append(self._update(self.trials[number], up))
            if up.done:
                del self.running[number]
        while not self.stopping and len(self.running) < self.options.parallel and \
                self.finished_count + len(self.running) < self.options.trials:
            changed.append(self._launch())
        return changed

    def _free_slot(self):
        busy = {id(s) for s in self.running.values()}
        for slot in self.slots:
            if id(slot) not in busy:
                return slot
        from .runners import LocalSlot

        slot = LocalSlot(self.options.device)
        self.slots.append(slot)
        return slot

    def _launch(self) -> TrialState:
        trial = self.study.ask()
        values = {d.key: d.suggest(trial) for d in self.dims}
        folder = self._folder(trial.number)
        st = TrialState(trial.number, values, folder, started=time.perf_counter())
        self.trials[trial.number] = st
        self._live[trial.number] = trial
        try:
            project = apply(self.project, self.dims, values)
            if folder.exists() and any(folder.iterdir()):
                raise SweepError(f"{folder}: exists already; it is left untouched")
            folder.mkdir(parents=True, exist_ok=True)
            text = project.to_json()
            atomic_write(folder / "project.json", text)
        except (ValueError, OSError) as e:
            st.message = f"the trial could not be set up: {e}"
            self._tell(st, "failed")
            return st
        slot = self._free_slot()
        slot.start(trial.number, text, str(folder))
        self.running[trial.number] = slot
        return st

    def _update(self, st: TrialState, up) -> TrialState:
        trial = self._live.get(st.number)
        for epoch, epochs, train, val in up.epochs:
            st.epoch, st.epochs = epoch + 1, epochs
            st.progress = st.epoch / max(1, epochs)
            st.history.append((epoch, val))
            value = val.get(self.metric.removeprefix("val_"))
            if value is None or trial is None or st.pruning:
                continue
            trial.report(value, epoch)
            if trial.should_prune() and not self.stopping:
                st.pruning = True
                self.running[st.number].stop()
        if up.batch and not up.done:
            epoch, epochs, batch, batches = up.batch
            st.epochs = epochs or st.epochs
            st.progress = (epoch + (batch + 1) / max(1, batches)) / max(1, st.epochs)
        if up.done:
            st.metrics = self._metrics(up)
            st.message = up.message
            if up.status == "completed":
                status = "completed"
            elif up.status == "stopped":
                status = "pruned" if st.pruning else "interrupted"
            else:
                status = "failed"
            if status == "completed" and self.metric not in st.metrics:
                status = "failed"
                st.message = (f"the run reports no {self.metric} (is there a validation "
                              f"split? a regression has no accuracy: use --metric val_loss)")
            self._tell(st, status)
        return st

    def _metrics(self, up) -> dict:
        rows = up.history
        out = {}
        if rows:
            key = self.metric
            pick = max if self.direction == "maximize" else min
            scored = [r for r in rows if key in r]
            best = pick(scored, key=lambda r: r[key]) if scored else rows[-1]
            for k in ("val_accuracy", "val_loss", "train_loss", "train_accuracy"):
                if k in best:
                    out[k] = best[k]
            out["epochs"] = int(rows[-1].get("epoch", len(rows)))
            out["best_epoch"] = int(best.get("epoch", len(rows)))
        for k, v in up.test.items():
            if k in ("loss", "accuracy", "mse", "mae", "r2"):
                out[f"test_{k}"] = v
        return out

    def _tell(self, st: TrialState, status: str) -> None:
        from optuna.trial import TrialState as S

        st.status = status
        if status in ("completed", "failed"):  # pruned and interrupted show where they ended
            st.progress = 1.0
        st.seconds = round(time.perf_counter() - st.started, 2) if st.started else 0.0
        trial = self._live.pop(st.number, None)
        if trial is None:
            return
        for k, v in (("status", status), ("metrics", st.metrics), ("seconds", st.seconds),
                     ("message", st.message)):
            trial.set_user_attr(k, v)
        if status == "interrupted":
            trial.set_user_attr("interrupted", True)
        try:
            if status == "completed":
                self.study.tell(trial, st.metrics[self.metric])
            else:
                self.study.tell(trial, state=S.PRUNED if status == "pruned" else S.FAIL)
        except RuntimeError as e:
            # the grid sampler calls study.stop() when its grid is used up, which Optuna
            # allows only inside optimize(); the trial is stored all the same
            if "Study.stop" not in str(e):
                raise
        if status == "interrupted":
            self._requeue(trial.number, trial.params)
        self.write_results()

    def stop(self) -> None:
        """Stop: running trials end at their next batch (with a checkpoint) as interrupted;
        no new trial starts. A resumed sweep trains their values again."""
        self.stopping = True
        for slot in self.running.values():
            slot.stop()

    def wait(self, timeout: float) -> None:
        """Until some trial has news, at most `timeout` seconds."""
        from multiprocessing.connection import wait

        conns = [c for c in (getattr(s, "connection", None) for s in self.running.values()) if c]
        if conns and len(conns) == len(self.running):
            try:
                wait(conns, timeout)
            except OSError:
                pass
        else:
            time.sleep(min(timeout, 0.1))

    def run(self, on_change=None, stop_after_s: float | None = None) -> None:
        """start(), then poll until every trial has ended; close() at the end (also on
        KeyboardInterrupt, which ends the running trials at once)."""
        if self.study is None:
            self.start()
        try:
            while not self.done:
                self.wait(0.25)
                for st in self.poll():
                    if on_change is not None:
                        on_change(st)
        except KeyboardInterrupt:  # a second Ctrl-C: no waiting for the trials
            self.close(timeout=1.0)
            raise
        self.close()

    def close(self, timeout: float = 10.0) -> None:
        """Stop what still runs and end the processes; running trials become interrupted."""
        if self.running:
            self.stop()
            deadline = time.monotonic() + timeout
            while self.running and time.monotonic() < deadline:
                self.wait(0.1)
                self.poll()
        for number in list(self.running):
            st = self.trials[number]
            st.message = "the trial did not stop in time and was ended"
            self._tell(st, "interrupted")
        self.running = {}
        for slot in self.slots:
            slot.close()
        self.slots = []
        self._unlock()

    def _unlock(self) -> None:
        lock = self.out / "sweep.lock"
        try:
            if lock.read_text().strip() == str(os.getpid()):
                lock.unlink()
        except OSError:
            pass

    # ---- results --------------------------------------------------------------------------

    def _folder(self, number: int) -> Path:
        return self.out / "trials" / f"{number:04d}"

    def results(self) -> list[dict]:
        """One row per trial that is a result (interrupted ones are not), by number."""
        rows = []
        for st in sorted(self.trials.values(), key=lambda t: t.number):
            if st.status in ("interrupted", "running"):
                continue
            row = {"trial": st.number, "status": st.status}
            row.update({d.name: st.values.get(d.key) for d in self.dims})
            row[self.metric] = st.metrics.get(self.metric)
            for k in ("val_accuracy", "val_loss", "test_accuracy", "test_loss", "test_mse",
                      "test_r2", "epochs", "best_epoch"):
                if k != self.metric and k in st.metrics:
                    row[k] = st.metrics[k]
            row.update({"seconds": st.seconds, "folder": str(st.folder.relative_to(self.out)),
                        "message": st.message})
            rows.append(row)
        return rows

    def best(self) -> dict | None:
        rows = [r for r in self.results() if r["status"] == "completed"
                and r.get(self.metric) is not None]
        if not rows:
            return None
        pick = max if self.direction == "maximize" else min
        return pick(rows, key=lambda r: r[self.metric])

    def write_results(self) -> None:
        rows = self.results()
        columns = ["trial", "status", *(d.name for d in self.dims), self.metric]
        columns += [k for k in dict.fromkeys(k for r in rows for k in r) if k not in columns]
        f = io.StringIO(newline="")
        w = csv.DictWriter(f, columns, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow({k: ("" if v is None else v) for k, v in r.items()})
        atomic_write(self.out / "results.csv", f.getvalue())


def read_results(out_dir) -> list[dict]:
    """results.csv of a sweep folder, numbers as numbers ([] when there is none)."""
    try:
        with open(Path(out_dir) / "results.csv", newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
    except OSError:
        return []
    for r in rows:
        for k, v in r.items():
            try:
                r[k] = json.loads(v) if v not in ("", None) else None
            except (TypeError, ValueError):
                pass
    return rows


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


__all__ = ["Sweep", "SweepOptions", "SweepError", "TrialState", "read_results", "METRICS"]
