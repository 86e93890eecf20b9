"""The training process the window drives (no Qt): runs, refusals, control, and the end."""
import subprocess
import sys
import textwrap
import time

import pytest

from netbuilder.training.config import TrainingConfigError
from netbuilder.training.worker import Batch, Done, Refused, RunOptions, TrainingProcess

from training_util import project, small_example


def until(proc, want, timeout=60.0):
    """Messages until one of type `want` arrives; (events, that message)."""
    events, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        proc.wait_readable(0.1)
        for m in proc.receive():
            if isinstance(m, Batch):
                events += m.events
            elif isinstance(m, want):
                return events, m
    raise AssertionError(f"no {want} within {timeout} s")


def wait_for_event(proc, kind, events, timeout=60.0):
    deadline = time.monotonic() + timeout
    while not any(type(e).__name__ == kind for e in events):
        assert time.monotonic() < deadline, f"no {kind} event"
        proc.wait_readable(0.1)
        for m in proc.receive():
            assert isinstance(m, Batch), m
            events += m.events


@pytest.fixture
def proc():
    p = TrainingProcess()
    yield p
    p.close()


def test_runs_back_to_back_and_refuses_bad_settings(proc, tmp_path):
    spirals = small_example("spirals_mlp", epochs=2).to_json()
    proc.start(RunOptions(spirals, str(tmp_path / "a")))
    events, done = until(proc, Done)
    assert done.result.status == "completed" and done.result.epochs_done == 2
    kinds = [type(e).__name__ for e in events]
    assert kinds[0] == "Started" and kinds[-1] == "Finished" and "ProbeSnapshot" in kinds
    assert "Boundary" in kinds  # the 2-D decision boundary, computed in the child
    assert (tmp_path / "a" / "checkpoints" / "last" / "model.safetensors").is_file()
    proc.start(RunOptions(spirals, str(tmp_path / "b")))  # at once, after Done
    _, done = until(proc, (Done, Refused))
    assert isinstance(done, Done) and done.result.status == "completed"
    bad = project([("Linear", {"out_features": 2})], [3], "spirals").to_json()  # N×2 data
    proc.start(RunOptions(bad, str(tmp_path / "c")))
    _, refused = until(proc, (Done, Refused))
    assert isinstance(refused, Refused) and "cannot train" in refused.message


def test_pause_replace_resume_and_stop(proc, tmp_path):
    p = small_example("spirals_mlp", epochs=2000)
    proc.start(RunOptions(p.to_json(), str(tmp_path)))
    events = []
    wait_for_event(proc, "BatchEnd", events)
    with pytest.raises(RuntimeError, match="not paused"):
        proc.layer_state(["n2"])
    proc.pause()
    wait_for_event(proc, "Paused", events)
    # a graph that cannot train is refused and the run stays as it was
    broken = small_example("spirals_mlp", epochs=2000)
    out = broken.graph.nodes_of_type("Output")[0]
    broken.graph.disconnect(broken.graph.in_edges(out.id)[0])
    with pytest.raises(TrainingConfigError):
        proc.replace(broken.to_json())
    before = proc.layer_state(["n2"])["n2"]["weights"]
    wider = small_example("spirals_mlp", epochs=2000)
    wider.graph.set_param("n4", "out_features", 16)
    report = proc.replace(wider.to_json())
    assert report.kept == ("n2",) and "n4" in report.reinitialised
    after = proc.layer_state(["n2"])["n2"]["weights"]
    assert all((before[k] == after[k]).all() for k in before)
    proc.resume()
    n = len(events)
    wait_for_event(proc, "Resumed", events)
    while sum(type(e).__name__ == "BatchEnd" for e in events[n:]) < 5:
        proc.wait_readable(0.1)
        for m in proc.receive():
            events += m.events if isinstance(m, Batch) else []
    proc.stop()
    _, done = until(proc, Done)
    assert done.result.status == "stopped"
    assert (tmp_path / "checkpoints" / "last" / "project.json").read_text().count('"n4"')


def test_close_ends_the_process():
    p = TrainingProcess()
    assert p.alive
    p.close()
    assert not p.alive and p.proc.returncode is not None


def test_a_script_without_a_main_guard_can_train(tmp_path):
    """multiprocessing's spawn would re-run such a script in the child; we don't."""
    script = tmp_path / "plain_script.py"
    script.write_text(textwrap.dedent(f"""
        import sys, time
        from netbuilder.api import example
        from netbuilder.training.worker import Done, RunOptions, TrainingProcess
        p = example("spirals_mlp")
        p.training = p.training.model_copy(update={{"epochs": 1}})
        proc = TrainingProcess()
        proc.start(RunOptions(p.to_json(), {str(tmp_path / 'run')!r}))
        end = time.monotonic() + 60
        while time.monotonic() < end:
            proc.wait_readable(0.1)
            done = [m for m in proc.receive() if isinstance(m, Done)]
            if done:
                print("status", done[0].result.status)
                break
        proc.close()
    """))
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.count("status completed") == 1  # printed once: no second copy ran


def test_a_malformed_request_gets_an_answer_and_the_process_keeps_working(proc, tmp_path):
    reply = proc.request("replace", timeout=30)  # no project: the command itself fails
    assert not reply.ok and "IndexError" in reply.value
    proc.start(RunOptions(small_example("spirals_mlp", epochs=1).to_json(), str(tmp_path)))
    _, done = until(proc, Done)
    assert done.result.status == "completed"


def test_resume_then_pause_at_once_is_answered_by_a_second_pause(proc, tmp_path):
    """The window numbers its pauses; the child answers each with the PauseAck of the
    newest one, also when Resume and Pause both arrive while it is still parked."""
    proc.start(RunOptions(small_example("spirals_mlp", epochs=2000).to_json(), str(tmp_path)))
    events = []
    wait_for_event(proc, "BatchEnd", events)
    proc.pause(1)
    wait_for_event(proc, "PauseAck", events)
    assert [e.seq for e in events if type(e).__name__ == "PauseAck"] == [1]
    n = len(events)
    proc.resume()
    proc.pause(2)  # before the parked run has had time to move
    deadline = time.monotonic() + 60
    while not any(type(e).__name__ == "PauseAck" for e in events[n:]):
        assert time.monotonic() < deadline
        proc.wait_readable(0.1)
        for m in proc.receive():
            events += m.events if isinstance(m, Batch) else []
    acks = [e for e in events[n:] if type(e).__name__ == "PauseAck"]
    assert acks[-1].seq == 2  # whether the run moved in between or not (a race)
    assert proc.layer_state(["n2"])["n2"]["weights"]  # and it is parked now
    proc.stop()
    _, done = until(proc, Done)
    assert done.result.status == "stopped"
