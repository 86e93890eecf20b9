import os

import pytest

# Qt widgets in the tests render offscreen: no display needed.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(autouse=True)
def _own_state_dir(tmp_path_factory, monkeypatch):
    """Recent files, crash recovery and the saved window layout go to a folder of each
    test's own, never the user's: a layout saved when one test closes its window must not
    be restored by the next. (A test may still set NETBUILDER_STATE_DIR itself.)"""
    monkeypatch.setenv("NETBUILDER_STATE_DIR", str(tmp_path_factory.mktemp("state")))
    # image-folder indexes (data/imagefiles.py) likewise
    monkeypatch.setenv("NETBUILDER_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))


def pytest_sessionfinish(session, exitstatus):
    # Qt deletes clipboard data it was given from Python a second time at interpreter
    # exit (segfault); release it while Qt is still alive. The app does the same on quit.
    from netbuilder.ui.editor.clipboard import release_clipboard

    release_clipboard()
