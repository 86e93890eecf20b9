"""Live tensor storage, counted op by op: the peak memory of whatever runs inside.

`LiveStorage` is a TorchDispatchMode: every ATen op's outputs are seen as they are made,
and each new storage is counted until Python's last reference to it goes (a weakref
finalizer). It works the same on real tensors and on FakeTensorMode tensors (which have a
storage size but no memory), so the estimate and the measurement share one definition of
"live bytes". Views share their base's storage and are counted once.
"""
from __future__ import annotations

import weakref

import torch
from torch._subclasses.fake_tensor import FakeTensor
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

from .corrections import hidden_bytes


class LiveStorage(TorchDispatchMode):
    """Counts live storage bytes; `peak` and `at_peak` (the storages live at the peak,
    key -> (bytes, phase, token)) say what was there at the worst moment. `phase` is a label the
    caller sets (forward, backward, optimizer) so the peak can be told apart later."""

    def __init__(self):
        super().__init__()
        self.live: dict[int, tuple[int, str, object]] = {}
        self.current = 0
        self.peak = 0
        self.at_peak: dict[int, tuple[int, str, object]] = {}
        self.ops = 0
        self.phase = "setup"

    @staticmethod
    def key(t: torch.Tensor) -> int:
        return t.untyped_storage()._cdata

    def track(self, t: torch.Tensor, phase: str | None = None, extra: int = 0) -> None:
        """Count `t`'s storage (once), plus `extra` bytes its real kernel would keep with
        it; tensors made before the mode started are added so."""
        try:
            st = t.untyped_storage()
        except (RuntimeError, NotImplementedError):  # sparse and other storage-less tensors
            return
        key = st._cdata
        if key in self.live:
            return
        nbytes = st.nbytes() + extra
        token = object()  # a reused address is a new storage: only its own finalizer frees it
        self.live[key] = (nbytes, phase or self.phase, token)
        self.current += nbytes
        weakref.finalize(st, self._gone, key, token)
        if self.current > self.peak:
            self.peak = self.current
            self.at_peak = dict(self.live)

    def _gone(self, key: int, token: object) -> None:
        entry = self.live.get(key)
        if entry is not None and entry[2] is token:
            del self.live[key]
            self.current -= entry[0]

    def reset_peak(self) -> None:
        self.peak = self.current
        self.at_peak = dict(self.live)

    def tokens(self, tensors) -> set:
        """The identities of these tensors' storages as tracked now (an address that was
        freed and reused is another storage, with another token)."""
        return {self.live[k][2] for k in storage_keys(tensors) if k in self.live}

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        self.ops += 1
        flat = [t for t in tree_flatten(out)[0] if isinstance(t, torch.Tensor)]
        kept = from_before = from_after = 0
        if flat and isinstance(flat[-1], FakeTensor) and not kwargs:
            kept, from_before, from_after = hidden_bytes(func, args, out)
        before = self.current
        for i, t in enumerate(flat):
            self.track(t, extra=kept if i == len(flat) - 1 else 0)
        # the kernel's own buffers, freed before it returned: a moment's peak
        moment = max(before + from_before, self.current + from_after)
        if moment > self.peak:
            self.peak = moment
            self.at_peak = dict(self.live)
            self.at_peak[-1] = (moment - self.current, "scratch", object())
        return out


def storage_keys(tensors) -> set[int]:
    """The storage keys of these tensors (None entries skipped)."""
    out = set()
    for t in tensors:
        if isinstance(t, torch.Tensor):
            try:
                out.add(LiveStorage.key(t))
            except (RuntimeError, NotImplementedError):
                pass
    return out


def unique_bytes(tensors) -> int:
    """Bytes of the distinct storages behind these tensors."""
    seen, total = set(), 0
    for t in tensors:
        if not isinstance(t, torch.Tensor):
            continue
        st = t.untyped_storage()
        if st._cdata not in seen:
            seen.add(st._cdata)
            total += st.nbytes()
    return total
