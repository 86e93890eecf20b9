"""The run session (no Qt): its states follow the training process's answers."""
import time

import pytest

from netbuilder.training.events import BatchEnd, Finished
from netbuilder.training.session import RunSession

from training_util import small_example


@pytest.fixture
def session():
    states = []
    s = RunSession(probe_hz=0, on_state=states.append)
    s.states = states
    yield s
    s.close()


def poll_until(session, done, timeout=90.0):
    """Poll (as the window's timer does) until done(events so far, end) holds."""
    events, end, deadline = [], None, time.monotonic() + timeout
    while not done(events, end):
        assert time.monotonic() < deadline, f"stuck in {session.state}"
        session.wait_readable(0.05)
        got, end = session.poll()
        events += got
    return events, end


def test_pause_resume_stop_walk_the_states(session, tmp_path):
    assert session.start(small_example("spirals_mlp", epochs=500), out_dir=tmp_path / "run")
    assert not session.start(small_example("spirals_mlp"))  # one run at a time
    poll_until(session, lambda ev, end: any(isinstance(e, BatchEnd) for e in ev))
    assert session.state == "running"
    session.pause()
    session.resume()  # before the child answered the first pause
    session.pause()  # only the answer to this (the second) pause makes it "paused"
    assert session.pause_seq == 2 and session.state == "pausing"
    poll_until(session, lambda ev, end: session.state == "paused")
    session.resume()
    assert session.state == "running"
    session.stop()
    assert session.state == "stopping"
    events, end = poll_until(session, lambda ev, end: end is not None)
    ended = session.finish(end)
    assert session.state == "idle" and ended.refused is None
    assert ended.result.status == "stopped" and session.result is ended.result
    assert any(isinstance(e, Finished) for e in events)
    assert session.states[:6] == ["starting", "running", "pausing", "running", "pausing",
                                  "paused"]
    assert session.states[-2:] == ["stopping", "idle"]
    assert session.checkpoint and (tmp_path / "run" / "checkpoints" / "last").is_dir()


def test_a_run_that_cannot_train_is_refused(session, tmp_path):
    bad = small_example("spirals_mlp", loss="mse", epochs=1)
    bad.graph.node("n6").params["out_features"] = 5  # 5 outputs for 2 classes
    session.start(bad, out_dir=tmp_path / "bad")
    _, end = poll_until(session, lambda ev, end: end is not None)
    ended = session.finish(end)
    assert ended.refused and "out_features" in ended.refused
    assert session.state == "idle"
