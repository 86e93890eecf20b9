"""`netbuilder import SOURCE -o FILE [--input-shape 3,224,224] [--kwargs JSON]`.

FILE.json gets the project and FILE.safetensors beside it the weights; a folder (no .json
suffix) becomes a checkpoint directory (project.json + model.safetensors)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from .fx_import import ModelImportError


def parse_shape(text: str) -> tuple[list[int], str]:
    """'3,224,224' -> ([3, 224, 224], 'float32'); '16:int64' -> ([16], 'int64')."""
    shape_text, _, dtype = text.partition(":")
    dtype = dtype or "float32"
    if dtype not in ("float32", "int64"):
        raise ModelImportError(f"--input-shape {text!r}: dtype must be float32 or int64")
    try:
        shape = [int(d) for d in shape_text.replace("x", ",").split(",") if d.strip()]
    except ValueError:
        raise ModelImportError(f"--input-shape {text!r}: write the shape of one sample "
                               f"without the batch, e.g. 3,224,224 or 16:int64") from None
    if not shape or any(d < 1 for d in shape):
        raise ModelImportError(f"--input-shape {text!r}: sizes must be positive")
    return shape, dtype


def _pretrained(source, args):
    """--pretrained: torchvision's weights loaded into the source model (pretrained.py)."""
    if not getattr(args, "pretrained", False):
        if getattr(args, "download", False):
            raise ModelImportError("--download fetches pretrained weights: give it with "
                                   "--pretrained")
        return None
    from .pretrained import load_pretrained

    module, _, name = args.source.partition(":")
    if module != "torchvision":
        raise ModelImportError(f"{args.source}: --pretrained takes torchvision's weights, so "
                               f"it works with torchvision:NAME models only")
    return load_pretrained(source.model, name, download=args.download)


def _options_text(pretrained) -> str:
    return ", ".join(f"{k}={v}" for k, v in pretrained.dataset_options.items())


def run_import(args) -> int:
    from ..core.files import DiskError, reword
    from ..core.files import explain as environment
    from ..core.project import save_project
    from ..export.atomic import staged_dir, staged_file
    from ..export.weights import save_weights
    from . import import_model, load_source

    try:
        kwargs = json.loads(args.kwargs) if args.kwargs else {}
        if not isinstance(kwargs, dict):
            raise ValueError("not an object")
    except ValueError as e:
        print(f"error: --kwargs must be a JSON object such as '{{\"num_classes\": 10}}' "
              f"({e})", file=sys.stderr)
        return 1
    try:
        parsed = [parse_shape(s) for s in (args.input_shape or [])]
        source = load_source(args.source, kwargs)
        pretrained = _pretrained(source, args)
        if pretrained is not None and not parsed:  # the size the weights were made for
            size = pretrained.dataset_options["size"]
            source.default_shapes = [[3, size, size]]
        if parsed:
            shapes, dtypes = [p[0] for p in parsed], [p[1] for p in parsed]
        elif source.default_shapes:
            shapes, dtypes = source.default_shapes, None
        else:
            raise ModelImportError(f"{args.source}: give the shape of one input sample with "
                                   f"--input-shape (e.g. --input-shape 3,32,32)")
        result = import_model(source.model, shapes, input_dtypes=dtypes,
                              name=args.name or source.label, factory=source.factory,
                              factory_kwargs=source.kwargs)
    except ModelImportError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    if pretrained is not None:
        from ..core.project import DatasetChoice

        result.project.dataset = DatasetChoice(name="image_folder",
                                               options=pretrained.dataset_options)
    out = Path(args.output)
    writing = out
    try:
        if out.suffix == ".json":
            weights = writing = out.with_suffix(".safetensors")
            with staged_file(weights) as tmp:
                save_weights(result.model, tmp)
            writing = out
            save_project(result.project, out)  # atomic itself
        else:
            with staged_dir(out) as tmp:
                save_project(result.project, tmp / "project.json")
                save_weights(result.model, tmp / "model.safetensors")
            weights = out / "model.safetensors"
    except OSError as e:  # a full disk, no permission: name the file the user asked for
        temporary = isinstance(e, DiskError) and e.temporary
        print(f"error: {reword(e, writing) if temporary else environment(e, writing)}",
              file=sys.stderr)
        return 1
    g = result.project.graph
    if pretrained is not None:
        print(f"pretrained weights: {pretrained.name} from {pretrained.path}; dataset "
              f"options set to their preprocessing ({_options_text(pretrained)})")
    print(f"imported {args.source}: {len(g.nodes)} nodes, {len(g.edges)} edges, "
          f"{sum(p.numel() for p in result.model.parameters()):,} parameters "
          f"({result.seconds:.1f}s)")
    if result.generic:
        shown = ", ".join(result.generic[:6]) + (" ..." if len(result.generic) > 6 else "")
        print(f"kept as generic nodes ({len(result.generic)}): {shown}")
    print(f"verified: the imported graph matches the original model; largest absolute "
          f"difference {result.max_diff:.3g}")
    print(f"wrote {out if out.suffix == '.json' else out / 'project.json'} and {weights}")
    return 0
