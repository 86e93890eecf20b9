"""Where fake tensors under-report: ops whose real CPU kernel keeps more than its fake
(meta) kernel says.

oneDNN's LSTM (aten.mkldnn_rnn_layer) saves a workspace for backward whose fake version
is empty, yet it is the largest tensor of a small LSTM's step (15 floats per time step,
sample and hidden unit). Its size is oneDNN's business, so it is measured: the real op
runs (after the fake run that asked, which then runs again) on zeros of the same sizes (or at batches of 32 and 64, extrapolated linearly in the
batch as oneDNN sizes it, when the real one would be big).
"""
from __future__ import annotations

import torch

ATEN = torch.ops.aten
MAX_PROBE_WEIGHT_BYTES = 64 * 2**20  # a probe needs real weights of the layer's size
MAX_PROBE_BYTES = 64 * 2**20  # probe at the real batch up to about this workspace


_KNOWN: dict[tuple, int] = {}  # probe key -> workspace bytes
_PENDING: set[tuple] = set()  # asked for inside a fake run, measured after it


def resolve_pending() -> bool:
    """Measure what fake runs asked for (outside any fake mode: a real kernel inside one
    corrupts memory). True when there was something: run the estimate again."""
    todo = list(_PENDING)
    _PENDING.clear()
    for key in todo:
        try:
            _KNOWN[key] = _rnn_workspace(*key)
        except (RuntimeError, TypeError, IndexError, AttributeError):  # another oneDNN
            _KNOWN[key] = 0
    return bool(todo)


def _rnn_workspace(shapes: tuple, flags: tuple, batch_dim: int, batch: int) -> int:
    """Bytes of the oneDNN LSTM workspace at `batch`: measured at that batch when the
    workspace is small, else extrapolated from batches of 32 and 64 (it is linear there;
    small batches are padded)."""
    seq = shapes[0][0][1 - batch_dim]
    hidden = shapes[5][0][-1]
    if seq * batch * hidden * 64 <= MAX_PROBE_BYTES:
        return _probe(shapes, flags, batch_dim, batch)
    a, b = (_probe(shapes, flags, batch_dim, n) for n in (32, 64))
    return a + (b - a) * (batch - 32) // 32


def _probe(shapes, flags, batch_dim, b) -> int:
    """The workspace bytes of the real op at batch size `b` (on zeros)."""
    args = []
    for s in shapes:
        if s is None:
            args.append(None)
            continue
        shape = list(s[0])
        if s[1] == "input":
            shape[batch_dim] = b
        elif s[1] == "state":
            shape[0] = b
        args.append(torch.zeros(shape))
    # (not under no_grad: the kernel then keeps no workspace at all)
    out = ATEN.mkldnn_rnn_layer.default(
        *args, *(list(f) if isinstance(f, tuple) else f for f in flags))
    ws = out[3]
    return ws.numel() * ws.element_size()


def hidden_bytes(func, args, out) -> int:
    """Bytes the real kernel of `func` keeps in its outputs beyond what the fake outputs
    hold (0 when none is known). Called for fake outputs only."""
    if func is not ATEN.mkldnn_rnn_layer.default or len(args) < 8:
        return 0
    x, hx, ws = args[0], args[5], out[3]
    if ws.numel() or not isinstance(x, torch.Tensor) or not isinstance(hx, torch.Tensor):
        return 0
    if x.dim() != 3 or hx.dim() != 2:
        return 0
    batch = hx.shape[0]  # the kernel's input is time-major here whatever its flag says;
    batch_dim = 1 if x.shape[1] == batch else 0 if x.shape[0] == batch else None
    if batch_dim is None:  # a layout not understood: the real kernel is not called on it
        return 0
    tensors = args[:7]
    weight_bytes = sum(t.numel() * 4 for t in tensors[1:5] if isinstance(t, torch.Tensor))
    if weight_bytes > MAX_PROBE_WEIGHT_BYTES:
        return 0
    flags = tuple(tuple(f) if isinstance(f, list) else f for f in args[7:])  # (cache key)
    shapes = tuple(None if t is None else
                   (tuple(t.shape), "input" if i == 0 else "state" if i >= 5 else "weight")
                   for i, t in enumerate(tensors))
    key = (shapes, flags, batch_dim, batch)
    if key not in _KNOWN:
        _PENDING.add(key)
        return 0
    return _KNOWN[key]
