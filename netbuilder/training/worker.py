"""Training in a child process, driven over a pipe (no Qt).

    proc = TrainingProcess()             # spawns the child, which imports torch meanwhile
    proc.start(RunOptions(project_json, out_dir="runs/x"))
    for msg in proc.receive(): ...       # never blocks: Batch / Done / Refused / Died
    proc.pause()
    report = proc.replace(edited_json)   # while paused: CarryReport (see carryover.py)
    proc.resume(); proc.stop(); proc.close()

Why a process and not a thread (bench/bench_gui_training.py): with the Trainer in a thread
of the window's process, the plots' Python code held the GIL the training loop needs
between two torch ops, so training from the window ran at 0.39x the plain loop and the UI
thread in turn waited for the training thread (event-loop lateness p99 ~100 ms). A child
process has its own interpreter; the two only meet at the pipe.

Messages are pickled by multiprocessing between these two processes of ours; nothing read
from a file is ever unpickled. Events are plain dataclasses (events.py, extras.py), batched
in the child so the window receives about 30 batches a second whatever the step rate.
Control (pause, stop, replace, resume) goes the other way and is read by a listener thread
in the child while its main thread trains; the Trainer acts on it at the next batch.

The child outlives a run: the next Train press starts at once instead of after ~2 s of
importing torch. It ends with close(), or by itself when the window's process goes away.
"""
from __future__ import annotations

import multiprocessing as mp
import os
import queue
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path

from .events import (BatchEnd, CheckpointSaved, EpochEnd, Failed, Finished, Paused,
                     ProbeSnapshot, Resumed, Started)

FLUSH_S = 0.033  # the child sends buffered events at least this often while training
PROBE_BUDGET = 0.02  # probe snapshots may take at most this share of the training time
URGENT = (Started, EpochEnd, Paused, Resumed, Finished, Failed, CheckpointSaved)


# ---- messages, child -> window ---------------------------------------------------------------

@dataclass(frozen=True)
class Batch:
    events: list  # Trainer events (events.py) and extras (extras.py), oldest first


@dataclass(frozen=True)
class PauseAck:
    seq: int  # follows a Paused event: the newest pause request it answers


@dataclass(frozen=True)
class Refused:
    message: str  # settings or data refused before training (TrainingConfigError, DataError)


@dataclass(frozen=True)
class Done:
    result: object  # trainer.Result


@dataclass(frozen=True)
class Died:
    message: str  # the child process ended without saying why (killed, out of memory, crash)


@dataclass(frozen=True)
class Reply:
    ok: bool
    value: object = None  # the answer, or a message for a person when not ok


@dataclass
class RunOptions:
    project_json: str
    out_dir: str
    device: str | None = None
    epochs: int | None = None
    probe_hz: float = 4.0  # at most this many probe snapshots a second (see PROBE_BUDGET)
    checkpoint_every_s: float = 10.0  # see Trainer
    flush_s: float = FLUSH_S  # a sweep, which shows progress only, asks for fewer messages
    extra: dict = field(default_factory=dict)
    # packages the user trusted in the window (read when the options are made): the child
    # applies the same allowlist to them when it parses the project
    trusted: tuple = field(default_factory=lambda: _trusted_here())


def _trusted_here() -> tuple:
    from ..core.allowlist import TRUSTED_PACKAGES, trusted_packages

    return tuple(p for p in trusted_packages() if p not in TRUSTED_PACKAGES)


# ---- the window's side ------------------------------------------------------------------------

class TrainingProcess:
    def __init__(self):
        self._pending: list = []
        self._dead = False
        if os.name == "posix":
            self._start_posix()
        else:  # pragma: no cover (Windows: multiprocessing's spawn, which re-imports the
            # main module: the calling script needs an `if __name__ == "__main__":` guard)
            ctx = mp.get_context("spawn")
            self.conn, child = ctx.Pipe()
            self.proc = ctx.Process(target=serve, args=(child,), name="netbuilder-training",
                                    daemon=True)
            self.proc.start()
            child.close()

    def _start_posix(self) -> None:
        # A fresh interpreter running this module, with one end of a socket pair: unlike
        # multiprocessing's spawn it does not re-import the caller's main script (a script
        # without a __main__ guard would start its own copy), and it starts sooner.
        ours, theirs = socket.socketpair()
        root = str(Path(__file__).resolve().parents[2])
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([root] + [p for p in [env.get("PYTHONPATH")] if p])
        self.proc = subprocess.Popen([sys.executable, "-m", __name__, str(theirs.fileno())],
                                     pass_fds=(theirs.fileno(),), env=env, close_fds=True)
        theirs.close()
        self.conn = Connection(ours.detach())

    def _exitcode(self, timeout: float) -> int | None:
        if isinstance(self.proc, subprocess.Popen):
            try:
                return self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                return None
        self.proc.join(timeout)
        return self.proc.exitcode

    @property
    def alive(self) -> bool:
        if isinstance(self.proc, subprocess.Popen):
            return not self._dead and self.proc.poll() is None
        return not self._dead and self.proc.is_alive()

    def _send(self, *msg) -> bool:
        if self._dead:
            return False
        try:
            self.conn.send(msg)
            return True
        except (OSError, EOFError, BrokenPipeError):
            self._died()
            return False

    def _give_up(self, why: str) -> None:
        """Stop using this process: kill it (it must not train on unseen) and say why."""
        try:
            self.proc.kill()
        except OSError:
            pass
        self._died(why)

    def _died(self, why: str = "") -> None:
        if self._dead:
            return
        self._dead = True
        code = self._exitcode(2)
        if not why:
            how = (f"it was killed by signal {-code}" + ("; out of memory?" if code == -9 else "")
                   if code is not None and code < 0 else f"exit code {code}")
            why = f"the training process ended unexpectedly ({how})"
        self._pending.append(Died(why))

    def start(self, options: RunOptions) -> bool:
        return self._send("start", options)

    def pause(self, seq: int = 0) -> None:
        """seq comes back in the PauseAck after the Paused event that answers it."""
        self._send("pause", seq)

    def resume(self) -> None:
        self._send("resume")

    def stop(self) -> None:
        self._send("stop")

    def replace(self, project_json: str, timeout: float = 60.0):
        """While paused: train this (edited) graph from here on. Returns the CarryReport;
        raises TrainingConfigError (the run stays paused, unchanged) if it cannot train."""
        from .config import TrainingConfigError

        reply = self.request("replace", project_json, timeout=timeout)
        if not reply.ok:
            raise TrainingConfigError(reply.value)
        return reply.value

    def layer_state(self, node_ids, timeout: float = 30.0) -> dict:
        """While paused: {node id: {"weights": {name: array}, "optimizer": {name: array}}}
        copied from the model being trained (to look at, and for tests)."""
        reply = self.request("layer_state", list(node_ids), timeout=timeout)
        if not reply.ok:
            raise RuntimeError(reply.value)
        return reply.value

    def request(self, *msg, timeout: float) -> Reply:
        """Send and wait for the Reply; other messages wait in line for receive()."""
        if not self._send(*msg):
            return Reply(False, "the training process is not running")
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            try:
                ready = left > 0 and self.conn.poll(left)
                m = self.conn.recv() if ready else None
            except (EOFError, OSError):
                self._died()
                return Reply(False, "the training process ended unexpectedly")
            except Exception as e:  # noqa: BLE001 (unreadable: give up on this process)
                self._give_up(f"unreadable message from the training process "
                              f"({type(e).__name__}: {e})")
                return Reply(False, "the training process sent a message it could not read")
            if not ready:
                self._give_up(f"the training process did not answer {msg[0]!r} within "
                              f"{timeout:g} s; it was stopped")
                return Reply(False, f"the training process did not answer within {timeout:g} s")
            if isinstance(m, Reply):
                return m
            self._pending.append(m)

    def receive(self) -> list:
        """Everything the child has sent so far, without waiting."""
        out, self._pending = self._pending, []
        if self._dead:
            return out
        try:
            while self.conn.poll():
                out.append(self.conn.recv())
        except (EOFError, OSError):
            self._died()
        except Exception as e:  # noqa: BLE001 (a message we cannot read: end it cleanly)
            self._give_up(f"unreadable message from the training process "
                          f"({type(e).__name__}: {e})")
        out += self._pending
        self._pending = []
        return out

    def wait_readable(self, timeout: float) -> bool:
        if self._pending or self._dead:
            return True
        try:
            return self.conn.poll(timeout)
        except (EOFError, OSError):
            return True

    def close(self, timeout: float = 5.0) -> None:
        """Ask the child to stop (it writes its stop checkpoint) and end; read what it sends
        meanwhile, so it never blocks on a full pipe; terminate, then kill, if it hangs."""
        self._send("quit")
        deadline = time.monotonic() + timeout
        while self._exitcode(0.05) is None and time.monotonic() < deadline:
            if not self._dead:
                self.receive()
        for end in (self.proc.terminate, self.proc.kill):
            if self._exitcode(0) is not None:
                break
            end()
            self._exitcode(2)
        self._dead = True
        self.conn.close()


# ---- the child ----------------------------------------------------------------------------------

def warm_up() -> None:
    """Import what a first run would otherwise import on its way, once per process.

    Measured on digits_cnn (30 epochs): the first run in a fresh process took 6.4 s, every
    later one 3.1-3.5 s. The difference was imports: torch._dynamo (the meta-device shape
    pass), scikit-learn's datasets, TensorBoard's writer. Paid here, while the window is
    being used or before a sweep's clock matters, the first trial trains as fast as the rest.
    """
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False):
        torch.nn.Linear(2, 2, device="meta")(torch.empty(1, 2, device="meta"))
    for name in ("sklearn.datasets", "torch.utils.tensorboard"):
        try:
            __import__(name)
        except Exception:  # noqa: BLE001 (optional: a run that needs it says so itself)
            pass


def serve(conn) -> None:
    """The child process's main function. When its runs are over (they close their own
    files) it ends at once: the interpreter's teardown with torch loaded took ~1.2 s, which
    a sweep paid once per trial process and a closing window waited for."""
    _Child(conn).main()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(0)


class _Child:
    def __init__(self, conn):
        self.conn = conn
        self.send_lock = threading.Lock()
        self.jobs: queue.Queue = queue.Queue()
        self.trainer = None
        self.extras = None
        self.options: RunOptions | None = None
        self.buf: list = []
        self.last_flush = 0.0
        self.last_probe = float("-inf")
        self.probe_gap = 1.0
        self.batch_end = 0.0
        self.pause_seq = 0

    def send(self, msg) -> None:
        with self.send_lock:
            try:
                self.conn.send(msg)
            except (OSError, EOFError):
                pass  # the window is gone; the listener ends the process

    def main(self) -> None:
        from . import trainer  # noqa: F401 (import torch now, not when Train is pressed)

        warm_up()  # before the listener: any answer now means "ready to train at speed"
        threading.Thread(target=self.listen, name="netbuilder-control", daemon=True).start()
        while True:
            job = self.jobs.get()
            if job is None:
                return
            self.run(*job)

    # ---- control, on the listener thread --------------------------------------------------

    def listen(self) -> None:
        while True:
            try:
                msg = self.conn.recv()
            except (EOFError, OSError):  # the window is gone: stop and end
                msg = ("quit",)
            except Exception as e:  # noqa: BLE001 (an unreadable message: skip it)
                print(f"netbuilder training process: unreadable message: {e}", file=sys.stderr)
                continue
            cmd, *args = msg if isinstance(msg, tuple) and msg else ("?",)
            try:
                if not self.handle(cmd, args):
                    return
            except Exception as e:  # noqa: BLE001 (the listener must outlive any command)
                print(f"netbuilder training process: {cmd!r} failed: "
                      f"{type(e).__name__}: {e}", file=sys.stderr)
                if cmd in ("replace", "layer_state"):  # the window waits for an answer
                    self.send(Reply(False, f"{type(e).__name__}: {e}"))

    def handle(self, cmd: str, args: list) -> bool:
        """One control message; False to stop listening (quit)."""
        t = self.trainer
        if cmd == "start":
            self.begin(args[0])
        elif cmd == "pause" and t is not None:
            self.pause_seq = args[0] if args else 0
            if t.pause():  # still parked from the last pause: no Paused event will come
                self.send(Batch([PauseAck(self.pause_seq)]))
        elif cmd == "resume" and t is not None:
            t.resume()
        elif cmd == "stop" and t is not None:
            t.stop()
        elif cmd == "replace":
            self.send(self.replace(args[0]))
        elif cmd == "layer_state":
            self.send(self.layer_state(args[0]))
        elif cmd == "quit":
            if t is not None:
                t.stop()
            self.jobs.put(None)
            return False
        return True

    def begin(self, options: RunOptions) -> None:
        from ..core.project import ProjectError, parse_project
        from .config import TrainingConfigError
        from .trainer import Trainer

        if self.trainer is not None:
            self.send(Refused("a run is already going in this training process"))
            return
        try:
            from ..core.allowlist import trust_packages

            trust_packages(*options.trusted)
            project = parse_project(options.project_json, "the project")
            self.trainer = Trainer(project, out_dir=options.out_dir, device=options.device,
                                   epochs=options.epochs, callbacks=[self.on_event],
                                   tensorboard=False,
                                   checkpoint_every_s=options.checkpoint_every_s)
        except (ProjectError, TrainingConfigError) as e:
            self.send(Refused(str(e)))
            return
        self.options = options
        self.jobs.put((self.trainer, options))

    def replace(self, project_json: str) -> Reply:
        from ..core.project import ProjectError, parse_project
        from .config import TrainingConfigError

        t = self.trainer
        if t is None or not t.parked:
            return Reply(False, "training is not paused")
        try:
            project = parse_project(project_json, "the project")
            project.training = t.project.training  # the run keeps its settings
            return Reply(True, t.replace_project(project))
        except (ProjectError, TrainingConfigError) as e:
            return Reply(False, str(e))

    def layer_state(self, node_ids) -> Reply:
        from ..core.compiler import layer_places

        t = self.trainer
        if t is None or not t.parked:
            return Reply(False, "training is not paused")
        model, opt = t.model, t.optimizer
        # a place inside a block instance ("instance/copy/inner") works as a node id does
        places = layer_places(model, t.project.graph, blocks=True)
        out = {}
        for nid in node_ids:
            q = places[nid][1] if nid in places else None
            if q is None:
                continue
            m = model.get_submodule(q)
            weights = {k: v.detach().cpu().numpy().copy() for k, v in m.state_dict().items()}
            state = {}
            for name, p in m.named_parameters():
                for key, v in opt.state.get(p, {}).items():
                    if hasattr(v, "numpy") and v.dim() > 0:
                        state[f"{name}.{key}"] = v.detach().cpu().numpy().copy()
            out[nid] = {"weights": weights, "optimizer": state}
        return Reply(True, out)

    # ---- the run, on the main thread --------------------------------------------------------

    def run(self, trainer, options: RunOptions) -> None:
        from ..data import DataError
        from .checkpoint import CheckpointError
        from .config import TrainingConfigError
        from .extras import Extras

        self.buf, self.last_probe = [], float("-inf")
        self.probe_gap = 1.0 / options.probe_hz if options.probe_hz > 0 else float("inf")
        self.batch_end = time.perf_counter()
        try:
            trainer.prepare()
            self.extras = Extras(trainer)
            end = Done(trainer.run())
        except (DataError, TrainingConfigError, CheckpointError) as e:
            end = Refused(str(e))
        except Exception as e:  # noqa: BLE001 (report it; the window keeps working)
            end = Refused(f"training could not start: {type(e).__name__}: {e}")
        self.flush()
        # free for the next "start" before the window hears that this run has ended
        self.trainer = self.extras = None
        self.send(end)

    def on_event(self, e) -> None:
        """Trainer callback, on the training thread: keep it cheap."""
        t, now = self.trainer, time.perf_counter()
        hz = self.options.probe_hz
        if isinstance(e, (Started, BatchEnd)) and t is not None:
            # Paced by time: the next step probes when the gap has passed since the last
            # snapshot (Prober.due is "step % every == 0").
            t.prober.every = 1 if hz > 0 and now - self.last_probe >= self.probe_gap else 1 << 40
            self.batch_end = now
        self.buf.append(e)
        if isinstance(e, Paused):
            self.buf.append(PauseAck(self.pause_seq))
        if isinstance(e, ProbeSnapshot) and self.extras is not None:
            try:
                extra = self.extras.compute(e.step)
            except Exception as err:  # noqa: BLE001 (a view's extra must not fail the run)
                print(f"netbuilder training process: live view data off: {err}",
                      file=sys.stderr)
                self.extras, extra = None, None
            if extra is not None:
                self.buf.append(extra)
        if isinstance(e, ProbeSnapshot):
            # up to probe_hz snapshots a second, but never more than PROBE_BUDGET of the
            # training time: a snapshot of the digits CNN costs ~8 ms (about 3 a second), one
            # of a large model can cost far more (then fewer)
            done = time.perf_counter()
            cost = done - self.batch_end
            self.probe_gap = max(1.0 / hz, cost / PROBE_BUDGET) if hz > 0 else float("inf")
            self.last_probe = done
        if isinstance(e, URGENT) or now - self.last_flush >= self.options.flush_s:
            self.flush()

    def flush(self) -> None:
        if self.buf:
            batch, self.buf = self.buf, []
            self.send(Batch(batch))
        self.last_flush = time.perf_counter()


if __name__ == "__main__":
    # run the module's own copy under its real name, so what it pickles names
    # netbuilder.training.worker.Batch and not __main__.Batch
    from netbuilder.training.worker import serve as _serve

    _serve(Connection(int(sys.argv[1])))


__all__ = ["TrainingProcess", "RunOptions", "Batch", "Done", "Refused", "Died", "Reply",
           "PauseAck", "serve"]
