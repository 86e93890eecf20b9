"""Fault injection shared by the test_faults_* suites.

The OS errors are injected at netbuilder's one write primitive (core.files.write_all),
which every checkpoint, metrics, project and export write goes through; the code under
test runs for real around it. Kills use the NETBUILDER_FAULT hook in checkpoint_slots,
in a child process.
"""
import errno
import os
import subprocess
import sys
from pathlib import Path

import torch

from netbuilder.core import files
from netbuilder.training import checkpoint as ckpt

ERRORS = {"ENOSPC": (errno.ENOSPC, "no space left on"),
          "EACCES": (errno.EACCES, "permission denied")}


class FailAt:
    """Make the k-th write (counting from 1) raise `code`; counts every write."""

    def __init__(self, monkeypatch, k: int, code: int):
        self.k, self.code, self.calls, self.paths = k, code, 0, []
        real = files.write_all

        def write_all(fd, data):
            self.calls += 1
            if self.calls == self.k:
                real(fd, bytes(data)[: len(data) // 2])  # half written, then the error
                raise OSError(self.code, os.strerror(self.code))
            real(fd, data)

        monkeypatch.setattr(files, "write_all", write_all)

    @property
    def fired(self) -> bool:
        return self.calls >= self.k


def count_writes(monkeypatch) -> FailAt:
    return FailAt(monkeypatch, 10**9, errno.ENOSPC)


def hidden_leftovers(folder: Path) -> list[str]:
    """Temporary or partial files anywhere below `folder` (complete versions of a slot
    are not leftovers: the slot points at one of them)."""
    bad = []
    for p in Path(folder).rglob("*"):
        n = p.name
        if n.endswith((".tmp", ".partial")) or ".partial." in n or ".link-" in n \
                or ".tmp-" in n or ".old-" in n or n.startswith(".netbuilder-write-check"):
            bad.append(str(p.relative_to(folder)))
    return bad


def versions_in(checkpoints: Path) -> dict[str, list[str]]:
    out = {}
    for p in sorted(checkpoints.iterdir()):
        if p.name.startswith(".") and ".v" in p.name:
            out.setdefault(p.name.split(".v")[0].lstrip("."), []).append(p.name)
    return out


def checkpoint_files(epoch: int) -> dict[str, bytes]:
    """A real checkpoint's files (a tiny model), with `epoch` recorded."""
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.Adam(model.parameters())
    model(torch.randn(4, 3)).sum().backward()
    opt.step()
    state = {"epoch": epoch, "batch": 0, "step": epoch * 10, "history": [], "partial": [0, 0, 0]}
    return ckpt.encode(model, opt, None, state, '{"name": "tiny"}\n',
                       {"torch_cpu": torch.get_rng_state()})


WRITE_SLOT = """
import sys
from pathlib import Path
from netbuilder.training import checkpoint_slots as s
src = Path(sys.argv[2])
s.write_slot(Path(sys.argv[1]), {p.name: p.read_bytes() for p in src.iterdir()})
"""


def write_slot_in_child(slot: Path, files_dir: Path, fault: str) -> int:
    env = dict(os.environ, NETBUILDER_FAULT=fault)
    return subprocess.run([sys.executable, "-c", WRITE_SLOT, str(slot), str(files_dir)],
                          env=env, timeout=120).returncode
