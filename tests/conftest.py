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


@pytest.fixture(autouse=True)
def _collect_qt_garbage(request):
    """A GUI test runs as the app does: cycles are collected on the GUI thread only
    (netbuilder.ui.widgets.gui_gc), never in a background thread that might free a closed
    window's Qt items while the GUI thread paints them (once crashed a worker in pyqtgraph's
    renderSymbol). After the test has closed its window (qtbot's teardown runs before
    this one's), Qt's deferred deletes and one full collection run at a quiet point, and the
    following non-GUI tests get automatic collection back."""
    if "qtbot" not in request.fixturenames:
        yield
        return
    request.getfixturevalue("qapp")
    from netbuilder.ui.widgets import gui_gc

    gui_gc.install()
    yield
    import gc

    from PySide6.QtCore import QCoreApplication, QEvent

    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    gc.collect()
    gui_gc.uninstall()
