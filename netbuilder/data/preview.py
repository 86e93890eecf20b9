"""What the Data panel previews of a dataset (no Qt; runs in a worker thread)."""
from __future__ import annotations

import numpy as np

PREVIEW_IMAGES = 32
PREVIEW_POINTS = 2000
PREVIEW_SENTENCES = 12


def load_preview(name: str, options: dict, progress=None, cancelled=None) -> dict:
    """Runs in a worker thread: what the preview shows of the data. A dataset with its own
    `preview` reads only that (an image folder: a scan and 32 images); `progress(message,
    fraction or None)` hears about the scan, and `cancelled()` turning true stops it
    (resources.Cancelled)."""
    from . import get

    spec = get(name)
    opts = spec.fill(options)
    if "download" in opts:
        opts["download"] = False  # a preview never downloads
    if spec.preview is not None:
        return {"name": name, **spec.preview(opts, progress, cancelled)}
    raw = spec.load(opts)
    n = len(raw.y)
    n_test = len(raw.test[1]) if raw.test is not None else int(round(n * opts["test_fraction"]))
    n_val = int(round(n * opts["val_fraction"]))
    n_train = n - n_val - (0 if raw.test is not None else n_test)
    out = {"name": name, "info": raw.info, "image": raw.image, "ordered": raw.ordered,
           "counts": (n_train, n_val, n_test), "augmentable": raw.augment is not None,
           "columns": raw.feature_names}
    rng = np.random.default_rng(0)
    if raw.image:
        idx = np.sort(rng.choice(n, min(PREVIEW_IMAGES, n), replace=False))
        out["x"], out["y"] = raw.x[idx], raw.y[idx]
    elif raw.info.input_dtype == "int64":
        k = min(PREVIEW_SENTENCES, n)
        out["x"], out["y"] = raw.x[:k], raw.y[:k]
        out["words"] = decoder(name, opts)
    elif len(raw.info.input_shape) == 2:  # a series: windows of T steps
        out["x"], out["y"] = raw.x[:300], raw.y[:300]
    else:
        idx = np.arange(n) if n <= PREVIEW_POINTS else np.sort(
            rng.choice(n, PREVIEW_POINTS, replace=False))
        out["x"], out["y"] = raw.x[idx], raw.y[idx]
    return out


def decoder(name: str, opts: dict) -> dict[int, str] | None:
    if name != "tiny_reviews":
        return None
    from . import text

    vocab = text.build_vocab([text.tokenize(s) for s, _ in text.reviews()], opts["vocab_size"])
    return {i: t for t, i in vocab.items()}


def preview_kind(p: dict) -> str:
    info = p["info"]
    if p["image"]:
        return "images"
    if info.input_dtype == "int64":
        return "text"
    if len(info.input_shape) == 2:
        return "series"
    if info.input_shape == (2,) and info.is_classification:
        return "scatter"
    if info.input_shape == (1,) and not info.is_classification:
        return "curve"
    return "table"
