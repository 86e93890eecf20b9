"""`netbuilder export FILE|EXAMPLE --format F -o PATH [--weights CKPT] [--trust PKG]`."""
from __future__ import annotations

import sys

from .errors import ExportError


def run_export(args) -> int:
    from ..api import open_project
    from ..core.allowlist import trust_packages
    from .exporter import export_project

    trust_packages(*(args.trust or []))
    project = open_project(args.project)  # ProjectError is reported by the main CLI
    try:
        report = export_project(project, args.format, args.output, weights=args.weights)
    except ExportError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(report.summary())
    print(f"time: {report.seconds:.2f}s")
    return 0
