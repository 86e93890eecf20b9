"""Checkpoint slots ("last", "best") that survive a kill at any instant.

    checkpoints/last  ->  .last.v7       a relative symlink: the slot
    checkpoints/.last.v7/                a complete checkpoint folder (a version)

A save writes a new version folder (state.json last: a version without a readable
state.json is incomplete), then points the slot at it with one atomic rename of a new
symlink over the old one, then removes the old version. A kill at any moment leaves the
slot pointing at a complete version: the old one or the new one. Where symlinks cannot
be made (some file systems), the slot is a real folder that is renamed aside and replaced;
a kill between the two renames leaves no slot for a moment, and readers (`resolve`) fall
back to the newest complete version, which `recover` puts back at the next start.

A file or folder at the slot's path that netbuilder did not make is never moved, hidden
or deleted: saving refuses with a message instead. Leftovers of an interrupted save
(incomplete versions, temporary links, the hidden `.last.tmp-PID`/`.last.old-PID` of
earlier netbuilder versions) are recovered or removed by `recover`, which the trainer
calls before a run; only folders holding nothing but checkpoint files are ever removed.
"""
from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import shutil
from pathlib import Path

from ..core.files import DiskError, explain, fsync_dir, reword, write_bytes

FORMAT = "netbuilder-checkpoint"
FILES = ("model.safetensors", "optimizer.safetensors", "project.json", "state.json")
STATE = "state.json"


def fault_point(step: str) -> None:
    """Fault-injection hook for the tests: NETBUILDER_FAULT="checkpoint:K=kill" ends the
    process (like kill -9) at the K-th step of a save, "=sigint" sends it a Ctrl-C; several
    may be given, separated by commas."""
    spec = os.environ.get("NETBUILDER_FAULT")
    if not spec:
        return
    _COUNT[0] += 1  # steps count across every save of the process
    for item in spec.split(","):
        where, _, action = item.partition("=")
        if where in (f"checkpoint:{_COUNT[0]}", f"checkpoint:{step}"):
            if action == "sigint":
                import signal

                os.kill(os.getpid(), signal.SIGINT)
            else:
                os._exit(137)


_COUNT = [0]


def _version_re(name: str) -> re.Pattern:
    return re.compile(rf"^\.{re.escape(name)}\.v(\d+)$")


def _legacy_re(name: str) -> re.Pattern:  # what netbuilder <= 0.1 left after a crash
    return re.compile(rf"^\.{re.escape(name)}\.(tmp|old)-(\d+)$")


def is_complete(folder: Path) -> bool:
    """A folder holding every checkpoint file, with a readable state.json."""
    if not folder.is_dir() or folder.is_symlink():
        return False
    if not all((folder / f).is_file() for f in FILES):
        return False
    try:
        doc = json.loads((folder / STATE).read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return False
    return isinstance(doc, dict) and doc.get("format") == FORMAT


def _only_checkpoint_files(folder: Path) -> bool:
    """True when removing `folder` can lose nothing but checkpoint files."""
    try:
        names = [p.name for p in folder.iterdir()]
    except OSError:
        return False
    return all(n in FILES or n.endswith(".tmp") for n in names)


def _versions(parent: Path, name: str) -> list[tuple[int, Path]]:
    pat = _version_re(name)
    found = []
    with contextlib.suppress(OSError):
        for p in parent.iterdir():
            m = pat.match(p.name)
            if m and not p.is_symlink():
                found.append((int(m.group(1)), p))
    return sorted(found)


def _target(slot: Path) -> Path | None:
    """The version a slot symlink points at, when it is one of ours."""
    if not slot.is_symlink():
        return None
    try:
        dest = os.readlink(slot)
    except OSError:
        return None
    if os.path.dirname(dest) or not _version_re(slot.name).match(dest):
        return None
    return slot.parent / dest


def ownership(slot: Path) -> str:
    """'absent', 'link' (our symlink), 'folder' (a real checkpoint folder: old netbuilder,
    or no symlinks here) or 'foreign' (something netbuilder did not write)."""
    if slot.is_symlink():
        return "link" if _target(slot) is not None else "foreign"
    if not slot.exists():
        return "absent"
    if slot.is_dir() and (is_complete(slot) or (_only_checkpoint_files(slot)
                                                  and any(slot.iterdir()))):
        return "folder"
    return "foreign"


def refuse_foreign(slot: Path) -> None:
    if ownership(slot) == "foreign":
        kind = "folder" if slot.is_dir() and not slot.is_symlink() else "file"
        raise DiskError(f"{slot}: a {kind} netbuilder did not write is in the way of the "
                        f"checkpoint; it is left untouched: move it, or choose another "
                        f"--out", errno.EEXIST)


def resolve(slot: str | os.PathLike) -> Path:
    """The folder to read for `slot`: the slot itself, or, when an interrupted save left
    no slot, the newest complete version beside it. Unchanged when there is none."""
    slot = Path(slot)
    if slot.exists():
        return slot
    for _, p in reversed(_versions(slot.parent, slot.name)):
        if is_complete(p):
            return p
    for p in _legacy(slot):
        if is_complete(p):
            return p
    return slot


def _legacy(slot: Path) -> list[Path]:
    pat = _legacy_re(slot.name)
    found = []
    with contextlib.suppress(OSError):
        for p in slot.parent.iterdir():
            m = pat.match(p.name)
            if m:
                found.append((m.group(1) == "tmp", p))  # the new copy first
    return [p for _, p in sorted(found, reverse=True)]


def _next_version(parent: Path, name: str) -> Path:
    """A new, empty version folder. Numbers go up in twos: the odd one below a new version
    is where a real-folder slot is renamed aside, so the new version stays the newest."""
    used = [n for n, _ in _versions(parent, name)]
    target = _target(parent / name)
    if target is not None:
        m = _version_re(name).match(target.name)
        used.append(int(m.group(1)))
    n = max(used, default=0) + 2
    while True:
        p = parent / f".{name}.v{n}"
        try:
            p.mkdir()
            return p
        except FileExistsError:
            n += 2


def _aside(version: Path) -> Path:
    n = int(version.name.rsplit(".v", 1)[1])
    return version.parent / f"{version.name.rsplit('.v', 1)[0]}.v{n - 1}"


_NO_SYMLINKS = {errno.EPERM, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EINVAL}


def _point(slot: Path, version: Path) -> None:
    """Make `slot` name `version` in one atomic step."""
    link = slot.parent / f".{slot.name}.link-{os.getpid()}"
    with contextlib.suppress(FileNotFoundError):
        link.unlink()
    try:
        os.symlink(version.name, link)
    except OSError as e:
        if e.errno not in _NO_SYMLINKS or slot.is_symlink():
            raise  # e.g. a full disk: the old slot stays as it is
        return _rename_into(slot, version)  # no symlinks on this file system: renames
    fault_point("linked")
    if slot.is_dir() and not slot.is_symlink():  # a real folder: an old netbuilder's
        os.rename(slot, _aside(version))  # readers fall back to the newest version meanwhile
        fault_point("legacy-aside")
    os.replace(link, slot)
    fsync_dir(slot.parent)


def _rename_into(slot: Path, version: Path) -> None:
    if slot.exists():
        os.rename(slot, _aside(version))
        fault_point("aside")
    os.rename(version, slot)
    fsync_dir(slot.parent)


def write_slot(slot: Path, files: dict[str, bytes]) -> Path:
    """Write `files` (name -> bytes, state.json among them) as a new version of `slot`
    and switch the slot to it. Raises DiskError naming the path; the old checkpoint stays
    in place on any failure."""
    parent = slot.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DiskError(explain(e, parent), e.errno) from None
    refuse_foreign(slot)
    needed = sum(len(b) for b in files.values())
    try:
        version = _next_version(parent, slot.name)
    except OSError as e:
        raise DiskError(explain(e, parent, needed), e.errno) from None
    try:
        fault_point("mkdir")
        for name in sorted(files, key=lambda n: n == STATE):  # state.json last
            try:
                write_bytes(version / name, files[name])
            except OSError as e:  # name the slot, not the hidden version folder
                raise reword(e, slot, needed) from None
            fault_point(name)
        fsync_dir(version)
        try:
            _point(slot, version)
        except OSError as e:
            raise DiskError(explain(e, slot, needed), e.errno) from None
        fault_point("switched")
    except BaseException:
        if version.exists() and _target(slot) != version:
            shutil.rmtree(version, ignore_errors=True)
        raise
    _clean(slot)
    fault_point("cleaned")
    return slot


def _clean(slot: Path) -> None:
    """Remove versions the slot no longer names and temporary links."""
    keep = _target(slot)
    for _, p in _versions(slot.parent, slot.name):
        if p != keep and _only_checkpoint_files(p):
            shutil.rmtree(p, ignore_errors=True)
    with contextlib.suppress(OSError):
        for p in slot.parent.glob(f".{slot.name}.link-*"):
            if p.is_symlink():
                p.unlink()


def recover(folder: str | os.PathLike, names=("last", "best")) -> list[str]:
    """Repair what an interrupted save left in a checkpoints folder; returns notices for
    a person (empty when there was nothing to do)."""
    folder = Path(folder)
    notes: list[str] = []
    if not folder.is_dir():
        return notes
    for name in names:
        slot = folder / name
        try:
            notes += _recover_slot(slot)
        except OSError as e:  # e.g. a read-only folder: reading still works
            notes.append(f"could not tidy {slot}: {explain(e, slot)}")
    return notes


def _recover_slot(slot: Path) -> list[str]:
    notes = []
    for p in _legacy(slot):  # an old netbuilder's leftovers: recover, or free the name
        if not p.exists():
            continue
        if is_complete(p):
            if ownership(slot) == "absent":
                os.rename(p, slot)
                notes.append(f"recovered the checkpoint {slot} from an interrupted save")
            else:
                shutil.rmtree(p, ignore_errors=True)
        elif p.is_dir() and _only_checkpoint_files(p):
            shutil.rmtree(p, ignore_errors=True)
        else:  # something of the user's an old netbuilder hid: make it visible again
            back = slot if ownership(slot) == "absent" else _free_name(slot)
            os.rename(p, back)
            notes.append(f"{back}: restored a file an earlier netbuilder had hidden as "
                         f"{p.name}")
    state = ownership(slot)
    if state == "link" and not _target(slot).exists() or state == "absent":
        complete = [p for _, p in _versions(slot.parent, slot.name) if is_complete(p)]
        if complete:
            if slot.is_symlink():
                slot.unlink()
            _point(slot, complete[-1])
            notes.append(f"recovered the checkpoint {slot} from an interrupted save")
        elif slot.is_symlink():
            slot.unlink()  # a dangling link with nothing to point at
    if ownership(slot) in ("link", "folder", "absent"):
        _clean(slot)
    return notes


def _free_name(slot: Path) -> Path:
    n = 1
    while (slot.parent / f"{slot.name}.recovered-{n}").exists():
        n += 1
    return slot.parent / f"{slot.name}.recovered-{n}"
