import os
import tempfile

# Qt widgets in the tests render offscreen: no display needed.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Recent files, crash recovery and the saved window layout go to a fresh folder, never the
# user's (a layout saved by one test must not be restored by another, nor by the user).
os.environ.setdefault("NETBUILDER_STATE_DIR", tempfile.mkdtemp(prefix="netbuilder-tests-"))


def pytest_sessionfinish(session, exitstatus):
    # Qt deletes clipboard data it was given from Python a second time at interpreter
    # exit (segfault); release it while Qt is still alive. The app does the same on quit.
    from netbuilder.ui.mainwindow import release_clipboard

    release_clipboard()
