"""Short texts shared by the panels: numbers, dataset summaries, class names, HTML escaping."""
from __future__ import annotations

import numpy as np


def short_int(n: int) -> str:
    for div, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if n >= div:
            return f"{n / div:.1f}{suffix}"
    return str(n)


def html(s: str) -> str:
    """Escape text for a rich-text label (messages quote what the user typed)."""
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def info_text(info) -> str:
    shape = "×".join(str(s) for s in info.input_shape)
    bits = [f"input N×{shape} {info.input_dtype}", info.task]
    if info.is_classification:
        bits.append(f"{info.num_classes} classes")
    else:
        bits.append(f"{info.target_width} target value(s)")
    if info.vocab_size:
        bits.append(f"vocabulary {info.vocab_size}")
    return " · ".join(bits)


def class_label(info, y) -> str:
    if info.is_classification:
        y = int(y)
        return info.class_names[y] if y < len(info.class_names) else str(y)
    return ", ".join(f"{float(v):.3g}" for v in np.atleast_1d(y))
