"""Write beside the target, verify, then rename: a failed export leaves no file behind."""
from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def staged_file(target: Path):
    """Yields a temporary path in the target's folder; on success it replaces `target`."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".partial" + target.suffix,
                               dir=target.parent)
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; an export is a normal file
        os.replace(tmp, target)
    finally:
        for p in (tmp, *tmp.parent.glob(tmp.name + "*")):  # ONNX external data, if any
            with contextlib.suppress(FileNotFoundError):
                p.unlink()


@contextlib.contextmanager
def staged_dir(target: Path):
    """Yields a temporary folder; on success its files move into `target`."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".partial",
                                dir=target.parent))
    try:
        yield tmp
        target.mkdir(exist_ok=True)
        for f in sorted(tmp.iterdir()):
            os.chmod(f, 0o666 & ~_umask())
            os.replace(f, target / f.name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
