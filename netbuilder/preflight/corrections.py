"""Where fake tensors under-report: ops whose real CPU kernel uses more than its fake
(meta) kernel says.

oneDNN's LSTM (aten.mkldnn_rnn_layer) saves a workspace for backward whose fake version
is empty, yet it is the largest tensor of a small LSTM's step (about 15 floats per time
step, sample and hidden unit), and its forward and backward kernels allocate scratch
buffers inside themselves, freed before they return, which no dispatch mode sees. Their
sizes are the library's business, so they are measured: after a fake run that met the op, the
real op runs on zeros of the same sizes under torch.profiler (outside any fake mode: a
real kernel inside one corrupts memory) and the fake run is repeated with the answers.
The workspace of a big batch is extrapolated from batches of 32 and 64 (oneDNN sizes it
linearly in the batch); probes that would need much memory are skipped.

The convolution backward also allocates scratch inside (reordered copies of its inputs,
about two of grad_output's size): the highest its allocations reach is measured the same
way, once per signature.
"""
from __future__ import annotations

import threading

import torch

ATEN = torch.ops.aten
MAX_PROBE_BYTES = 64 * 2**20  # the tensors a probe may allocate

_KNOWN: dict[tuple, tuple[int, int]] = {}  # probe key -> (kept bytes, scratch bytes)
_PENDING: dict[tuple, object] = {}  # asked for inside a fake run -> how to measure it
_RNN_SCRATCH: dict[tuple, int] = {}  # (input shape, state shape) -> forward scratch
_LOCK = threading.Lock()  # the editor estimates in a thread while Train may check too


def _tensor_bytes(args) -> int:
    return sum(a.numel() * a.element_size() for a in args if isinstance(a, torch.Tensor))


def resolve_pending() -> bool:
    """Measure what fake runs asked for. True when there was something (run again)."""
    with _LOCK:
        todo = list(_PENDING.items())
        _PENDING.clear()
        for key, measure in todo:
            try:
                _KNOWN[key] = measure()
            except (RuntimeError, TypeError, IndexError, AttributeError, ValueError):
                _KNOWN[key] = (0, 0)  # another library version: no correction known
    return bool(todo)


def _profiled(fn) -> tuple[object, int, int]:
    """fn()'s result, the highest point of its allocations' running sum (its outputs and
    its own scratch) and the scratch alone (bytes above what stays when it returns)."""
    from torch._C._profiler import _EventType
    from torch.profiler import ProfilerActivity, profile

    fn()  # a first call builds (and caches) oneDNN's primitive: not the op's own memory
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        out = fn()
    sizes = []

    def walk(events):
        for e in events:
            if e.tag == _EventType.Allocation:
                sizes.append((e.start_time_ns, e.extra_fields.alloc_size))
            walk(e.children)
    walk(prof.profiler.kineto_results.experimental_event_tree())
    running = highest = 0
    for _, size in sorted(sizes):
        running += size
        highest = max(highest, running)
    return out, highest, max(0, highest - running)


def _zeros(spec):
    if isinstance(spec, tuple) and spec[:1] == ("T",):
        return torch.zeros(spec[1], dtype=spec[2])
    if isinstance(spec, tuple) and spec[:1] == ("L",):
        return list(spec[1])
    return spec


def _spec(a):
    if isinstance(a, torch.Tensor):
        return ("T", tuple(a.shape), a.dtype)
    if isinstance(a, list):
        return ("L", tuple(a))
    return a


# ---- the LSTM -------------------------------------------------------------------------

def _rnn_probe(specs: tuple, batch_dim: int, batch: int) -> tuple[int, int]:
    """(workspace bytes, scratch bytes) of the real LSTM layer at batch size `batch`."""
    def at(b):
        args = []
        for i, s in enumerate(specs):
            if i == 0 or i in (5, 6):
                shape = list(s[1])
                shape[batch_dim if i == 0 else 0] = b
                s = ("T", tuple(shape), s[2])
            args.append(_zeros(s))
        # (not under no_grad: the kernel then keeps no workspace at all)
        out, _, scratch = _profiled(lambda: ATEN.mkldnn_rnn_layer.default(*args))
        return out[3].numel() * out[3].element_size(), scratch
    x = specs[0][1]
    hidden = specs[5][1][-1]
    if x[1 - batch_dim] * batch * hidden * 64 <= MAX_PROBE_BYTES:
        return at(batch)
    (w1, s1), (w2, s2) = at(32), at(64)
    return w1 + (w2 - w1) * (batch - 32) // 32, s1 + (s2 - s1) * (batch - 32) // 32


def _rnn(args, out) -> tuple[int, int, int]:
    x, hx, ws = args[0], args[5], out[3]
    if ws.numel() or x.dim() != 3 or hx.dim() != 2:
        return 0, 0, 0
    batch = hx.shape[0]  # the kernel's input is time-major here whatever its flag says
    batch_dim = 1 if x.shape[1] == batch else 0 if x.shape[0] == batch else None
    if batch_dim is None or _tensor_bytes(args[1:5]) > MAX_PROBE_BYTES:
        return 0, 0, 0  # a layout not understood: the real kernel is not called on it
    specs = tuple(_spec(a) for a in args)
    key = ("rnn", specs, batch_dim, batch)
    if key not in _KNOWN:
        _PENDING[key] = lambda: _rnn_probe(specs, batch_dim, batch)
        return 0, 0, 0
    kept, scratch = _KNOWN[key]
    _RNN_SCRATCH[(tuple(x.shape), tuple(hx.shape))] = scratch
    return kept, 0, scratch


def _rnn_backward(args) -> int:
    """Its scratch is the forward's (measured there: the real backward would need the
    real workspace)."""
    x, hx = args[0], args[5]
    return _RNN_SCRATCH.get((tuple(x.shape), tuple(hx.shape)), 0)


# ---- scratch of plain ops ---------------------------------------------------------------

SCRATCH_OPS = {ATEN.convolution_backward.default}


def _measure_op(func, specs) -> tuple[int, int]:
    args = [_zeros(s) for s in specs]  # (made before the profile: not the op's memory)
    return 0, _profiled(lambda: func(*args))[1]


def _scratch(func, args) -> int:
    """The highest the real op's allocations reach (outputs and scratch), measured once
    per signature on zeros."""
    if _tensor_bytes(args) > MAX_PROBE_BYTES // 2:
        return 0
    specs = tuple(_spec(a) for a in args)
    key = (str(func), specs)
    if key not in _KNOWN:
        _PENDING[key] = lambda: _measure_op(func, specs)
        return 0
    return _KNOWN[key][1]


def hidden_bytes(func, args, out) -> tuple[int, int, int]:
    """For an op on fake tensors: (bytes the real kernel keeps in its last output beyond
    the fake one; the highest the real op's allocations reach above what was live before
    it; scratch above what is live after it). Zeros when nothing is known."""
    if not args or not isinstance(args[0], torch.Tensor):
        return 0, 0, 0
    if func is ATEN.mkldnn_rnn_layer.default and len(args) >= 8:
        return _rnn(args, out)
    if func is ATEN.mkldnn_rnn_layer_backward.default and len(args) >= 6:
        return 0, 0, _rnn_backward(args)
    if func in SCRATCH_OPS:
        return 0, _scratch(func, args), 0
    return 0, 0, 0
