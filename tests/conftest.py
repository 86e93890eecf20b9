import os

# Qt widgets in the tests render offscreen: no display needed.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
