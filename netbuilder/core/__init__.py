"""The graph model, layer registry, shapes, analysis, compiler and project files (no Qt).

Importing the package registers the built-in layer types (layers.py registers them into
registry.py, which imports nothing back), so the registry is complete whatever module of
the package is imported first.
"""
from . import layers  # noqa: F401  (registers every built-in layer type)
