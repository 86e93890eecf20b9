"""One writer and one loader per format. The loader is what a user of the artefact would
call (torch.jit.load, onnxruntime, torch.export.load ...), so verification exercises the
file itself, not the object it was made from."""
from __future__ import annotations

import contextlib
import io
import re
import warnings
from pathlib import Path

import torch

from ..core.files import DiskError, explain, write_bytes
from .errors import ExportError
from .weights import save_weights


def _dynamic(n_inputs: int):
    batch = torch.export.Dim("batch", min=1, max=65536)
    return tuple({0: batch} for _ in range(n_inputs))


def _first_line(e: BaseException) -> str:
    return (str(e).strip().splitlines() or [type(e).__name__])[0][:300]


# ---- TorchScript ---------------------------------------------------------------------------

def write_torchscript(model, xs, path: Path, ctx) -> list[str]:
    notes = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            scripted = torch.jit.script(model)
        except Exception as e:  # noqa: BLE001 - fall back to tracing, and say so
            notes.append(f"torch.jit.script failed ({_first_line(e)}); used torch.jit.trace, "
                         f"which records one path through the model")
            try:
                scripted = torch.jit.trace(model, tuple(xs), check_trace=False)
            except Exception as e2:  # noqa: BLE001
                raise ExportError(f"TorchScript cannot represent this model: "
                                  f"{_first_line(e2)}; export to pt2 (torch.export) "
                                  f"instead") from None
        buf = io.BytesIO()  # torch.jit.save to a file aborts the process on a full disk
        torch.jit.save(scripted, buf)
    write_bytes(path, buf.getvalue())
    if any(issubclass(w.category, FutureWarning) and "deprecated" in str(w.message)
           for w in caught):
        notes.append("TorchScript is deprecated in this torch version; the file still "
                     "loads with torch.jit.load, but prefer --format pt2 (torch.export) "
                     "for new deployments")
    return notes


def load_torchscript(path: Path, ctx):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # reported once, by the writer
        m = torch.jit.load(str(path))
    m.eval()
    return m


# ---- ONNX ----------------------------------------------------------------------------------

def write_onnx(model, xs, path: Path, ctx) -> list[str]:
    try:
        import onnxscript  # noqa: F401  (the exporter needs it)
    except ImportError:
        raise ExportError("ONNX export needs the onnxscript package (pip install "
                          "onnxscript)") from None
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            program = torch.onnx.export(model, tuple(xs), dynamo=True, verbose=False,
                                        input_names=list(ctx.input_names),
                                        output_names=list(ctx.output_names),
                                        dynamic_shapes=_dynamic(len(xs)))
    except Exception as e:  # noqa: BLE001 - explained below
        raise ExportError(_explain_onnx(e, ctx)) from None
    try:
        data = program.model_proto.SerializeToString()
    except ValueError:  # over protobuf's 2 GB: the weights go to external data files
        data = None
    if data is None:
        try:
            program.save(str(path))
        except OSError as e:
            raise DiskError(explain(e, path), e.errno) from None
    else:
        write_bytes(path, data)
    import onnx

    try:
        onnx.checker.check_model(str(path), full_check=False)
    except onnx.checker.ValidationError as e:
        raise ExportError(f"the ONNX file fails onnx.checker: {_first_line(e)}") from None
    return ["dynamic batch axis 0 on every input and output"]


def _explain_onnx(e: BaseException, ctx) -> str:
    text = " ".join(str(x) for x in (e, e.__cause__, e.__context__) if x)
    m = re.search(r"target=torch\.ops\.(\w+)\.(\w+)", text)
    if not m:
        return (f"ONNX export failed: {_first_line(e)}; export to pt2 or TorchScript "
                f"instead")
    op = f"{m.group(1)}.{m.group(2)}"
    core = m.group(2).strip("_").replace("linalg_", "")
    node = ctx.node_for_op(core)
    where = f", used by node {node}" if node else ""
    return (f"ONNX cannot express the operation {op}{where}. No file was written. Export "
            f"to pt2 (torch.export) or TorchScript instead, or replace that node with "
            f"layers ONNX supports")


class _OrtModel:
    def __init__(self, path: Path):
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        self.session = ort.InferenceSession(str(path), opts,
                                            providers=["CPUExecutionProvider"])
        self.names = [i.name for i in self.session.get_inputs()]

    def __call__(self, *xs):
        outs = self.session.run(None, {n: x.numpy() for n, x in zip(self.names, xs)})
        outs = [torch.from_numpy(o) for o in outs]
        return outs[0] if len(outs) == 1 else tuple(outs)


def load_onnx(path: Path, ctx):
    try:
        return _OrtModel(path)
    except ImportError:
        ctx.notes.append("onnxruntime is not installed: checked with onnx.checker only")
        return None


# ---- torch.export --------------------------------------------------------------------------

def write_pt2(model, xs, path: Path, ctx) -> list[str]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ep = torch.export.export(model, tuple(xs), dynamic_shapes=_dynamic(len(xs)))
    except Exception as e:  # noqa: BLE001
        raise ExportError(f"torch.export cannot capture this model: {_first_line(e)}") \
            from None
    buf = io.BytesIO()  # torch.export.save to a file aborts the process on a full disk
    torch.export.save(ep, buf)
    write_bytes(path, buf.getvalue())
    return ["dynamic batch axis 0 on every input"]


def load_pt2(path: Path, ctx):
    return torch.export.load(str(path)).module()


# ---- safetensors ---------------------------------------------------------------------------

def write_safetensors(model, xs, path: Path, ctx) -> list[str]:
    save_weights(model, path)
    return ["weights only: rebuild the model from the project (or model.py) to use them"]


def load_safetensors(path: Path, ctx):
    from .weights import load_weights

    fresh = ctx.fresh_model()
    load_weights(fresh, path)
    return fresh


FORMATS = {
    "torchscript": (".pt", write_torchscript, load_torchscript),
    "onnx": (".onnx", write_onnx, load_onnx),
    "pt2": (".pt2", write_pt2, load_pt2),
    "safetensors": (".safetensors", write_safetensors, load_safetensors),
}
