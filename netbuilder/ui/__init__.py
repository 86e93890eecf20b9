"""The Qt window: the only package that imports PySide6 / pyqtgraph.

Layers (import-linter checks them): app > mainwindow > (editor | training | data | results |
dialogs) > document > widgets. The features never import each other; mainwindow.py creates
every dock and menu and connects them.
"""
