import os

# Qt widgets in the tests render offscreen: no display needed.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def pytest_sessionfinish(session, exitstatus):
    # Qt deletes clipboard data it was given from Python a second time at interpreter
    # exit (segfault); release it while Qt is still alive. The app does the same on quit.
    from netbuilder.ui.mainwindow import release_clipboard

    release_clipboard()
