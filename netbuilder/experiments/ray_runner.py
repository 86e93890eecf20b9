"""`netbuilder sweep --ray ADDRESS`: the same trials, trained as Ray tasks on a cluster.

Ray is optional (`pip install netbuilder[ray]`); every machine of the cluster needs
netbuilder installed. ADDRESS is what `ray.init` takes: "auto" (the cluster this machine
belongs to), "ray://HOST:10001" (a remote cluster through Ray Client), or "local" (a Ray
instance started here, for trying it out).

Each trial is one task (one CPU) that trains with the Trainer in a scratch folder on the
worker and returns the trial's files (metrics.csv and the checkpoints), which this process
writes into the trial's folder: the workers need no shared file system. Finished epochs
go through a small actor (the monitor), so the sweep prunes Ray trials as it prunes local
ones; a stop reaches the trial within about a second, at a batch boundary.
"""
from __future__ import annotations

import time
from pathlib import Path

from .runners import SweepError, TrialUpdate, _plain

STOP_CHECK_S = 1.0  # a trial asks the monitor whether to stop at most this often


class _Session:
    """Ray, initialised once per sweep; shut down at the end only if the sweep started it."""

    def __init__(self, address: str):
        import ray

        self.ray = ray
        self.started_here = False
        if not ray.is_initialized():
            ray.init(address=None if address == "local" else address,
                     include_dashboard=False, log_to_driver=False)
            self.started_here = True
        self.monitor = ray.remote(_Monitor).remote()
        self.task = ray.remote(num_cpus=1)(train_trial)
        self.closed = False

    def close(self) -> None:
        if not self.closed and self.started_here:
            self.ray.shutdown()
        self.closed = True


def ray_slots(address: str, parallel: int, device: str | None) -> list:
    try:
        import ray  # noqa: F401
    except ImportError:
        raise SweepError("--ray needs Ray, an optional extra: pip install 'netbuilder[ray]'"
                         ) from None
    try:
        session = _Session(address)
    except Exception as e:  # noqa: BLE001 (Ray raises many kinds: say which cluster)
        raise SweepError(f"--ray {address}: cannot connect to the Ray cluster "
                         f"({type(e).__name__}: {e})") from None
    return [RaySlot(session, device) for _ in range(parallel)]


class _Monitor:
    """A Ray actor: trials report epochs, the sweep collects them and asks for stops."""

    def __init__(self):
        self.reports: dict[int, list] = {}
        self.stops: set[int] = set()

    def report(self, number: int, epoch: tuple) -> bool:
        self.reports.setdefault(number, []).append(epoch)
        return number in self.stops

    def should_stop(self, number: int) -> bool:
        return number in self.stops

    def take(self, number: int) -> list:
        return self.reports.pop(number, [])

    def stop(self, number: int) -> None:
        self.stops.add(number)


class RaySlot:
    def __init__(self, session: _Session, device: str | None):
        self.session, self.device = session, device
        self.number: int | None = None
        self.ref = None
        self.folder: Path | None = None

    def start(self, number: int, project_json: str, out_dir: str) -> None:
        self.number, self.folder = number, Path(out_dir)
        self.ref = self.session.task.remote(number, project_json, self.device,
                                            self.session.monitor)

    def poll(self) -> TrialUpdate:
        ray, up = self.session.ray, TrialUpdate()
        if self.ref is None:
            return up
        up.epochs = ray.get(self.session.monitor.take.remote(self.number))
        ready, _ = ray.wait([self.ref], timeout=0)
        if not ready:
            return up
        try:
            out = ray.get(self.ref)
        except Exception as e:  # noqa: BLE001 (a task that died: the trial failed)
            out = {"status": "failed", "message": f"the Ray task failed: "
                   f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"}
        up.epochs += ray.get(self.session.monitor.take.remote(self.number))
        self._write(out.get("files", {}))
        up.done, up.status, up.message = True, out["status"], out.get("message", "")
        up.history, up.test = out.get("history", []), out.get("test", {})
        self.ref = self.number = None
        return up

    def _write(self, files: dict) -> None:
        from ..core.files import write_bytes

        for rel, data in files.items():
            target = self.folder / rel
            if self.folder.resolve() not in target.resolve().parents:
                continue  # only inside the trial's folder
            target.parent.mkdir(parents=True, exist_ok=True)
            write_bytes(target, data)

    def stop(self) -> None:
        if self.number is not None:
            self.session.monitor.stop.remote(self.number)

    def close(self) -> None:
        if self.ref is not None:
            self.session.ray.cancel(self.ref, force=True)
            self.ref = None
        self.session.close()


def train_trial(number: int, project_json: str, device, monitor) -> dict:
    """The Ray task: train one trial in a scratch folder and return its files."""
    import tempfile

    import ray

    from ..core.project import ProjectError, parse_project
    from ..data import DataError
    from ..training import checkpoint_slots as slots
    from ..training.checkpoint import CheckpointError
    from ..training.config import TrainingConfigError
    from ..training.events import BatchEnd, EpochEnd
    from ..training.trainer import Trainer

    with tempfile.TemporaryDirectory(prefix="netbuilder-trial-") as tmp:
        try:
            project = parse_project(project_json, f"trial {number}'s project")
            trainer = Trainer(project, out_dir=tmp, device=device, tensorboard=False,
                              checkpoint_every_s=30.0)
        except (ProjectError, TrainingConfigError) as e:
            return {"status": "failed", "message": str(e)}
        asked = [time.monotonic()]

        def on_event(e) -> None:
            if isinstance(e, EpochEnd):
                info = (e.epoch, e.epochs, dict(e.train), _plain(e.val))
                if ray.get(monitor.report.remote(number, info)):
                    trainer.stop()
            elif isinstance(e, BatchEnd) and time.monotonic() - asked[0] >= STOP_CHECK_S:
                asked[0] = time.monotonic()
                if ray.get(monitor.should_stop.remote(number)):
                    trainer.stop()

        trainer.callbacks.append(on_event)
        try:
            result = trainer.run()
        except (DataError, TrainingConfigError, CheckpointError) as e:
            return {"status": "failed", "message": str(e)}
        root = Path(tmp)
        files = {}
        if (root / "metrics.csv").is_file():
            files["metrics.csv"] = (root / "metrics.csv").read_bytes()
        for kind in ("last", "best"):
            folder = slots.resolve(root / "checkpoints" / kind)
            if folder.is_dir():
                for f in folder.iterdir():
                    if f.is_file():
                        files[f"checkpoints/{kind}/{f.name}"] = f.read_bytes()
        return {"status": result.status, "message": result.message,
                "history": list(result.history), "test": _plain(result.test), "files": files}


__all__ = ["ray_slots", "RaySlot", "train_trial"]
