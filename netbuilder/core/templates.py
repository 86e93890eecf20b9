"""JSON argument templates of generic nodes -> Python values.

In a template {"$in": i} is input tensor i and {"$batch": i} the batch size of input i;
{"$tuple": [...]}, {"$slice": [a, b, c]}, {"$ellipsis": true}, {"$float": "inf"} and
{"$dtype": "float16"} stand for what JSON cannot write. Nothing else is produced: a
template can name no function, class or attribute (a "$dtype" must be a torch dtype).
"""
from __future__ import annotations

import json


class TemplateError(ValueError):
    pass


DTYPES = frozenset("float32 float64 float16 bfloat16 float double half int64 int32 int16 int8 "
                   "uint8 long int short bool complex64 complex128".split())
_KEYS = {"$in", "$batch", "$tuple", "$slice", "$ellipsis", "$float", "$dtype"}


def template_problem(data) -> str | None:
    """What the file loader refuses in a parsed template (no torch needed): an unknown
    "$" key, a "$dtype" that is not a dtype name, an input number that is not a number."""
    if isinstance(data, list):
        return next((m for x in data if (m := template_problem(x))), None)
    if not isinstance(data, dict):
        return None
    keys = [k for k in data if k.startswith("$")]
    if keys:
        if len(data) != 1 or keys[0] not in _KEYS:
            return f"template {{{', '.join(map(repr, data))}: ...}} is not one netbuilder knows"
        key, v = keys[0], data[keys[0]]
        if key == "$dtype" and v not in DTYPES:
            return f"{{\"$dtype\": {v!r}}} is not a torch dtype name"
        if key in ("$in", "$batch") and (isinstance(v, bool) or not isinstance(v, int)
                                         or not 0 <= v < 8):
            return f"{{{key!r}: {v!r}}} must be an input number from 0 to 7"
        return template_problem(v)
    return next((m for x in data.values() if (m := template_problem(x))), None)


def _dtype(name):
    import torch

    value = getattr(torch, name, None) if name in DTYPES else None
    if not isinstance(value, torch.dtype):
        raise TemplateError(f"{{\"$dtype\": {name!r}}} is not a torch dtype")
    return value


def _index(v, xs, key):
    if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v < len(xs):
        raise TemplateError(f"{{{key!r}: {v!r}}} must be the number of an input "
                            f"(0 to {len(xs) - 1})" if xs else
                            f"{{{key!r}: ...}} cannot be used here (there are no inputs)")
    return xs[v]


def decode_template(text: str, xs):
    """A JSON argument template -> Python values, with inputs and batch sizes filled in."""
    def walk(v):
        if isinstance(v, list):
            return [walk(x) for x in v]
        if isinstance(v, dict):
            if "$in" in v:
                return _index(v["$in"], xs, "$in")
            if "$batch" in v:
                return _index(v["$batch"], xs, "$batch").size(0)
            if "$tuple" in v:
                return tuple(walk(x) for x in v["$tuple"])
            if "$slice" in v:
                parts = walk(v["$slice"])
                if not isinstance(parts, list) or len(parts) > 3:
                    raise TemplateError("{\"$slice\": ...} takes a list of up to 3 values")
                return slice(*parts)
            if "$ellipsis" in v:
                return Ellipsis
            if "$float" in v:
                try:
                    return float(v["$float"])
                except (TypeError, ValueError):
                    raise TemplateError(f"{{\"$float\": {v['$float']!r}}} is not a number") \
                        from None
            if "$dtype" in v:
                return _dtype(v["$dtype"])
            bad = next((k for k in v if isinstance(k, str) and k.startswith("$")), None)
            if bad:
                raise TemplateError(f"unknown template key {bad!r}")
            return {k: walk(x) for k, x in v.items()}
        return v

    return walk(json.loads(text))
