"""Write beside the target, verify, then rename: a failed export leaves no file behind.

The bytes themselves are written by netbuilder.core.files (in-memory first, then our own
writes), so a full disk or a folder without permission is a DiskError naming the path,
never a process abort in a C++ writer; the partial file is removed either way.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path

from ..core.files import DiskError, explain, fsync_dir, remove_leftovers, temp_prefix


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _mkdir(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DiskError(explain(e, folder), e.errno) from None


@contextlib.contextmanager
def staged_file(target: Path):
    """Yields a temporary path in the target's folder; on success it replaces `target`."""
    target = Path(target)
    _mkdir(target.parent)
    try:
        remove_leftovers(target, ".partial" + target.suffix)  # of a killed export
        fd, tmp = tempfile.mkstemp(prefix=temp_prefix(target),
                                   suffix=".partial" + target.suffix, dir=target.parent)
    except OSError as e:
        raise DiskError(explain(e, target), e.errno) from None
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        try:
            os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; an export is a normal file
            os.replace(tmp, target)
        except OSError as e:
            raise DiskError(explain(e, target), e.errno) from None
        fsync_dir(target.parent)
    finally:
        for p in (tmp, *tmp.parent.glob(tmp.name + "*")):  # ONNX external data, if any
            with contextlib.suppress(OSError):
                p.unlink()


@contextlib.contextmanager
def staged_dir(target: Path):
    """Yields a temporary folder; on success its files move into `target`."""
    target = Path(target)
    _mkdir(target.parent)
    try:
        remove_leftovers(target, ".partial")
        tmp = Path(tempfile.mkdtemp(prefix=temp_prefix(target), suffix=".partial",
                                    dir=target.parent))
    except OSError as e:
        raise DiskError(explain(e, target), e.errno) from None
    try:
        yield tmp
        try:
            target.mkdir(exist_ok=True)
            for f in sorted(tmp.iterdir()):
                os.chmod(f, 0o666 & ~_umask())
                os.replace(f, target / f.name)
        except OSError as e:
            raise DiskError(explain(e, target), e.errno) from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
