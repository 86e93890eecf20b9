"""CIFAR-10's python batches read without unpickling.

A batch file (`cifar-10-batches-py/data_batch_1`) is a pickled dict whose b'data' is a
numpy uint8 array and whose b'labels' is a list of ints. `pickle.load` on such a file would
import and call whatever the file names, so a project pointing its dataset root at a folder
shipped beside it could run code. Here the opcodes are listed by `pickletools.genops`
(which executes nothing) and a tiny stack machine rebuilds only plain values (ints, strings,
bytes, lists, tuples, dicts) plus the handful of numpy names an array's pickle uses, which
are never imported or called: `_reconstruct` and `dtype` only record their arguments. Any
other name, or those names used in any other way, is refused with the file named.

Python 2's pickles (the official files) hold the pixels as one raw string: its offset in
the file is kept, so the pixels can be memory-mapped instead of kept in memory.
"""
from __future__ import annotations

import pickletools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .registry import DataError

RECONSTRUCT, NDARRAY, DTYPE, ENCODE = "reconstruct", "ndarray", "dtype", "encode"
# The only names a CIFAR batch's pickle may mention, and what each stands for.
ALLOWED = {
    "numpy.core.multiarray _reconstruct": RECONSTRUCT,
    "numpy._core.multiarray _reconstruct": RECONSTRUCT,  # numpy 2 writes this
    "numpy ndarray": NDARRAY,
    "numpy dtype": DTYPE,
    "_codecs encode": ENCODE,  # how Python 3 writes bytes at protocol 2
}
PIXELS = 3 * 32 * 32
MAX_IMAGES = 1_000_000  # a batch claiming more is not CIFAR (the real ones hold 10,000)
NUM_CLASSES = 10
_RAW_BYTES = {"BINSTRING": 5, "SHORT_BINSTRING": 2, "BINBYTES": 5, "SHORT_BINBYTES": 2,
              "BINBYTES8": 9}  # opcode -> bytes from the opcode to its payload
_CONSTANTS = {"NONE", "INT", "BININT", "BININT1", "BININT2", "LONG",
              "LONG1", "LONG4", "FLOAT", "BINFLOAT", "UNICODE", "SHORT_BINUNICODE",
              "BINUNICODE", "BINUNICODE8"}
_MARK = object()


class _Refused(Exception):
    pass


class _Payload(bytes):
    """Bytes that appear verbatim in the file at `offset`."""
    offset: int | None = None


@dataclass
class _Name:
    role: str  # a value of ALLOWED


@dataclass
class _Array:
    """What numpy's _reconstruct + BUILD would have made, as data."""
    state: tuple | None = None


@dataclass
class _DType:
    name: str
    state: tuple | None = None


@dataclass
class CifarBatch:
    labels: np.ndarray  # int64, one per image
    pixels: bytes | None  # N×3072 bytes, when they cannot be mapped from the file
    offset: int | None  # where the N×3072 bytes start in the file (memory-mappable)

    def __len__(self) -> int:
        return len(self.labels)


def _text(v) -> str | None:
    if isinstance(v, bytes):
        return v.decode("latin-1")
    return v if isinstance(v, str) else None


def _reduce(func, args):
    if not isinstance(func, _Name) or not isinstance(args, tuple):
        raise _Refused("calls something that is not an allowed numpy name")
    if func.role == ENCODE:  # _codecs.encode(text, "latin1") -> bytes
        if len(args) == 2 and isinstance(args[0], str) and args[1] in ("latin1", "latin-1"):
            return args[0].encode("latin-1")
        raise _Refused("uses _codecs.encode other than to write bytes")
    if func.role == DTYPE:
        if len(args) == 3 and _text(args[0]) is not None:
            return _DType(_text(args[0]))
        raise _Refused("builds a numpy dtype in an unexpected way")
    if func.role == RECONSTRUCT:
        if len(args) == 3 and isinstance(args[0], _Name) and args[0].role == NDARRAY and \
                args[1] == (0,) and _text(args[2]) == "b":
            return _Array()
        raise _Refused("builds a numpy array in an unexpected way")
    raise _Refused(f"calls {func.role}, which is never called in a CIFAR batch")


def _build(obj, state):
    if isinstance(obj, (_Array, _DType)) and obj.state is None and isinstance(state, tuple):
        obj.state = state
        return
    raise _Refused("sets the state of something other than a numpy array or dtype")


def _to_mark(stack: list) -> list:
    for i in range(len(stack) - 1, -1, -1):
        if stack[i] is _MARK:
            items = stack[i + 1:]
            del stack[i:]
            return items
    raise _Refused("is malformed (no MARK)")


def _walk(f) -> object:
    """The file's value, rebuilt from plain values only; raises _Refused or ValueError."""
    stack, memo = [], {}
    for op, arg, pos in pickletools.genops(f):
        name = op.name
        if name in ("PROTO", "FRAME"):
            continue
        if name == "STOP":
            break
        if name in ("NEWTRUE", "NEWFALSE"):
            stack.append(name == "NEWTRUE")  # genops gives no argument for these
        elif name in _CONSTANTS:
            stack.append(arg)
        elif name in _RAW_BYTES:
            value = _Payload(arg.encode("latin-1") if isinstance(arg, str) else arg)
            value.offset = None if pos is None else pos + _RAW_BYTES[name]
            stack.append(value)
        elif name == "STRING":
            stack.append(arg.encode("latin-1"))
        elif name == "MARK":
            stack.append(_MARK)
        elif name in ("EMPTY_LIST", "EMPTY_DICT", "EMPTY_TUPLE"):
            stack.append([] if name == "EMPTY_LIST" else {} if name == "EMPTY_DICT" else ())
        elif name in ("TUPLE1", "TUPLE2", "TUPLE3"):
            k = int(name[-1])
            if len(stack) < k:
                raise _Refused("is malformed (stack underflow)")
            items = stack[-k:]
            del stack[-k:]
            stack.append(tuple(items))
        elif name in ("TUPLE", "LIST"):
            items = _to_mark(stack)
            stack.append(tuple(items) if name == "TUPLE" else items)
        elif name == "DICT":
            items = _to_mark(stack)
            stack.append(dict(zip(items[::2], items[1::2])))
        elif name in ("APPEND", "APPENDS"):
            items = [stack.pop()] if name == "APPEND" else _to_mark(stack)
            if not stack or not isinstance(stack[-1], list):
                raise _Refused("appends to something that is not a list")
            stack[-1].extend(items)
        elif name in ("SETITEM", "SETITEMS"):
            items = [stack.pop(-2), stack.pop()] if name == "SETITEM" else _to_mark(stack)
            if not stack or not isinstance(stack[-1], dict) or len(items) % 2:
                raise _Refused("sets items of something that is not a dict")
            stack[-1].update(zip(items[::2], items[1::2]))
        elif name in ("PUT", "BINPUT", "LONG_BINPUT"):
            memo[arg] = stack[-1]
        elif name == "MEMOIZE":
            memo[len(memo)] = stack[-1]
        elif name in ("GET", "BINGET", "LONG_BINGET"):
            if arg not in memo:
                raise _Refused("is malformed (reads an unset memo entry)")
            stack.append(memo[arg])
        elif name == "POP":
            stack.pop()
        elif name == "POP_MARK":
            _to_mark(stack)
        elif name == "DUP":
            stack.append(stack[-1])
        elif name in ("GLOBAL", "STACK_GLOBAL"):
            if name == "STACK_GLOBAL":
                attr, module = stack.pop(), stack.pop()
                arg = f"{module} {attr}"
            if arg not in ALLOWED:
                raise _Refused(f"names {arg.replace(' ', '.')!s}, which a CIFAR-10 batch "
                               f"never contains")
            stack.append(_Name(ALLOWED[arg]))
        elif name == "REDUCE":
            args = stack.pop()
            stack.append(_reduce(stack.pop(), args))
        elif name == "BUILD":
            state = stack.pop()
            _build(stack[-1], state)
        else:
            raise _Refused(f"uses the pickle opcode {name}, which a CIFAR-10 batch never "
                           f"contains")
    if len(stack) != 1:
        raise _Refused("is malformed (does not end with one value)")
    return stack[0]


def _item(d: dict, key: str):
    for k in (key, key.encode()):
        if k in d:
            return d[k]
    raise _Refused(f"has no {key!r} entry")


def _pixels(arr) -> bytes:
    if not isinstance(arr, _Array) or arr.state is None:
        raise _Refused("has a 'data' entry that is not a numpy array")
    state = arr.state[1:] if len(arr.state) == 5 and arr.state[0] == 1 else arr.state
    if len(state) != 4:
        raise _Refused("has a 'data' array in an unexpected layout")
    shape, dtype, fortran, data = state
    if not isinstance(dtype, _DType) or dtype.name != "u1" or not isinstance(dtype.state, tuple) \
            or len(dtype.state) < 2 or _text(dtype.state[1]) != "|":
        raise _Refused("has a 'data' array that is not uint8")
    if not (isinstance(shape, tuple) and len(shape) == 2 and shape[1] == PIXELS and
            isinstance(shape[0], int) and 0 < shape[0] <= MAX_IMAGES):
        raise _Refused(f"has a 'data' array of shape {shape}, not N×{PIXELS}")
    if fortran not in (False, 0):
        raise _Refused("has a 'data' array in Fortran order")
    if not isinstance(data, bytes) or len(data) != shape[0] * PIXELS:
        size = len(data) if isinstance(data, bytes) else "no"
        raise _Refused(f"has {size} pixel bytes for a {shape[0]}×{PIXELS} array")
    return data


def read_batch(path: Path) -> CifarBatch:
    """One python CIFAR-10 batch; raises DataError naming the file when it is anything
    but a dict with a uint8 N×3072 'data' array and a list of N labels 0..9."""
    try:
        with open(path, "rb") as f:
            value = _walk(f)
        if not isinstance(value, dict):
            raise _Refused("does not hold a dict")
        data, labels = _pixels(_item(value, "data")), _item(value, "labels")
        if not isinstance(labels, list) or not all(type(v) is int for v in labels):
            raise _Refused("has 'labels' that are not a list of whole numbers")
        if len(labels) * PIXELS != len(data):
            raise _Refused(f"has {len(labels)} labels for {len(data) // PIXELS} images")
        if labels and not 0 <= min(labels) <= max(labels) < NUM_CLASSES:
            raise _Refused(f"has labels outside 0..{NUM_CLASSES - 1}")
    except _Refused as e:
        raise DataError(f"{path}: refused to read this CIFAR-10 batch: the pickle {e}. "
                        f"netbuilder reads these files without running anything in them; "
                        f"use the files from the official archive") from None
    except (ValueError, EOFError, IndexError, TypeError) as e:
        raise DataError(f"{path}: damaged CIFAR-10 batch (not a complete pickle: {e})") \
            from None
    except OSError as e:
        raise DataError(f"{path}: cannot read it: {e.strerror or e}") from None
    offset = getattr(data, "offset", None)
    return CifarBatch(np.asarray(labels, np.int64), None if offset is not None else data,
                      offset)
