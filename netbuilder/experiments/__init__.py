"""Experiments without Qt: sweeps over training settings and layer parameters (Optuna;
trials in parallel processes or on a Ray cluster) and diffs between project versions.

    from netbuilder.experiments.sweep import Sweep
    from netbuilder.experiments.space import parse_space
"""
