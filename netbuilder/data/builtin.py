"""Offline built-in datasets: scikit-learn's real tables and digits, TensorFlow-Playground
style 2-D toys, noisy regression curves, a noisy sine series and the review corpus.
Everything is generated or read locally in well under a second."""
from __future__ import annotations

import numpy as np

from ..core.registry import CHOICE, FLOAT, INT, Param
from . import text
from .registry import (CLASS, CLASSIFICATION, REAL, REGRESSION, SEQUENCE, DataInfo,
                       DatasetSpec, RawData, register)

SAMPLES = Param("samples", INT, 1000, "number of points", min=20, max=1_000_000)
# The generated sets use their own fixed seed: the data stays the same while the training
# seed changes, so runs with different seeds are comparable.
DATA_SEED = 7


def _noise(default):
    return Param("noise", FLOAT, default, "standard deviation of the added noise",
                 min=0.0, max=10.0)


def _rng():
    return np.random.default_rng(DATA_SEED)


# ---- scikit-learn's real data -------------------------------------------------------------

# "0-4" / "5-9": half the digits, labelled 0..4 in order (class names stay the digits), so
# a network trained on one half can be fine-tuned on the other (a transfer example).
DIGIT_SUBSETS = {"all": tuple(range(10)), "0-4": (0, 1, 2, 3, 4), "5-9": (5, 6, 7, 8, 9)}


def _digits(o):
    from sklearn.datasets import load_digits

    d = load_digits()
    keep = DIGIT_SUBSETS[o["digits"]]
    mask = np.isin(d.target, keep)
    x = (d.data[mask].reshape(-1, 1, 8, 8) / 16.0).astype(np.float32)
    y = np.searchsorted(np.array(keep), d.target[mask]).astype(np.int64)
    return RawData(x, y, _digits_info(o), image=True, augment=_small_shift)


def _digits_info(o):
    keep = DIGIT_SUBSETS[o.get("digits", "all")]
    return DataInfo((1, 8, 8), "float32", CLASSIFICATION, CLASS, len(keep),
                    tuple(str(i) for i in keep))


def _small_shift():
    from torchvision.transforms import v2

    return v2.RandomAffine(degrees=10, translate=(0.1, 0.1))


register(DatasetSpec("digits", "Images", "scikit-learn's 1,797 handwritten digits, 1×8×8 "
                     "grey levels, 10 classes.", CLASSIFICATION, _digits,
                     (Param("digits", CHOICE, "all", "which digits: all, 0-4 or 5-9 (a half "
                            "is labelled 0..4)", choices=tuple(DIGIT_SUBSETS)),),
                     info=_digits_info))


def _table(loader_name, features, classes):
    def info(o):
        return DataInfo((features,), "float32", CLASSIFICATION, CLASS, len(classes),
                        tuple(classes))

    def load(o):
        import sklearn.datasets

        d = getattr(sklearn.datasets, loader_name)()
        return RawData(d.data.astype(np.float32), d.target.astype(np.int64), info(o))
    return load, info


for _name, _loader, _f, _classes, _doc in (
        ("iris", "load_iris", 4, ("setosa", "versicolor", "virginica"),
         "Fisher's 150 iris flowers: 4 measurements, 3 species."),
        ("wine", "load_wine", 13, ("class_0", "class_1", "class_2"),
         "178 wines: 13 chemical measurements, 3 cultivars."),
        ("breast_cancer", "load_breast_cancer", 30, ("malignant", "benign"),
         "569 breast tumours: 30 features of cell nuclei, malignant or benign.")):
    _load, _info = _table(_loader, _f, _classes)
    register(DatasetSpec(_name, "Tables", _doc, CLASSIFICATION, _load, info=_info))


# ---- 2-D toys (TensorFlow Playground) --------------------------------------------------------

def _two_d(n_classes):
    def info(o):
        k = o.get("classes", n_classes)
        return DataInfo((2,), "float32", CLASSIFICATION, CLASS, k,
                        tuple(str(i) for i in range(k)))
    return info


def _spirals(o):
    rng, n = _rng(), o["samples"]
    xs, ys = [], []
    for label, delta in ((0, 0.0), (1, np.pi)):
        m = n // 2 + (n % 2 if label == 0 else 0)
        r = np.arange(m) / m * 5.0
        t = 1.75 * np.arange(m) / m * 2 * np.pi + delta
        pts = np.stack([r * np.sin(t), r * np.cos(t)], 1) + rng.normal(0, o["noise"], (m, 2))
        xs.append(pts)
        ys.append(np.full(m, label))
    return RawData(np.concatenate(xs).astype(np.float32), np.concatenate(ys).astype(np.int64),
                   _two_d(2)(o))


def _sk_toy(fn, **kw):
    def load(o):
        import sklearn.datasets

        x, y = getattr(sklearn.datasets, fn)(o["samples"], noise=o["noise"],
                                             random_state=DATA_SEED, **kw)
        return RawData(x.astype(np.float32), y.astype(np.int64), _two_d(2)(o))
    return load


def _xor(o):
    rng, n = _rng(), o["samples"]
    x = rng.uniform(-1, 1, (n, 2))
    y = (x[:, 0] * x[:, 1] > 0).astype(np.int64)
    x = x + rng.normal(0, o["noise"], x.shape)
    return RawData(x.astype(np.float32), y, _two_d(2)(o))


def _blobs_info(o):
    k = o["classes"]
    return DataInfo((o["features"],), "float32", CLASSIFICATION, CLASS, k,
                    tuple(str(i) for i in range(k)))


def _blobs(o):
    from sklearn.datasets import make_blobs

    x, y = make_blobs(o["samples"], n_features=o["features"], centers=o["classes"],
                      cluster_std=o["spread"], random_state=DATA_SEED)
    return RawData(x.astype(np.float32), y.astype(np.int64), _blobs_info(o))


register(DatasetSpec("spirals", "2-D toys", "Two interleaved spirals (TensorFlow "
                     "Playground).", CLASSIFICATION, _spirals, (SAMPLES, _noise(0.1)),
                     info=_two_d(2)))
register(DatasetSpec("moons", "2-D toys", "Two interleaving half circles.", CLASSIFICATION,
                     _sk_toy("make_moons"), (SAMPLES, _noise(0.1)), info=_two_d(2)))
register(DatasetSpec("circles", "2-D toys", "A small circle inside a larger one.",
                     CLASSIFICATION, _sk_toy("make_circles", factor=0.5),
                     (SAMPLES, _noise(0.05)), info=_two_d(2)))
register(DatasetSpec("xor", "2-D toys", "Points labelled by the sign of x·y (exclusive or).",
                     CLASSIFICATION, _xor, (SAMPLES, _noise(0.05)), info=_two_d(2)))
register(DatasetSpec("blobs", "2-D toys", "Gaussian blobs, one per class.", CLASSIFICATION,
                     _blobs, (SAMPLES, Param("features", INT, 2, "input features", min=1,
                                             max=1000),
                              Param("classes", INT, 3, "number of blobs", min=2, max=100),
                              Param("spread", FLOAT, 1.0, "standard deviation of each blob",
                                    min=0.01, max=100.0)),
                     info=_blobs_info))


# ---- regression curves and a time series -------------------------------------------------

def _curve(fn):
    def load(o):
        rng, n = _rng(), o["samples"]
        x = rng.uniform(-1, 1, (n, 1))
        y = fn(x) + rng.normal(0, o["noise"], x.shape)
        return RawData(x.astype(np.float32), y.astype(np.float32), _curve_info(o))
    return load


def _curve_info(o):
    return DataInfo((1,), "float32", REGRESSION, REAL)


register(DatasetSpec("square", "Regression", "y = x² on [-1, 1], plus noise.", REGRESSION,
                     _curve(np.square), (SAMPLES, _noise(0.0)), info=_curve_info))
register(DatasetSpec("sine", "Regression", "y = sin(πx) on [-1, 1], plus noise.", REGRESSION,
                     _curve(lambda x: np.sin(np.pi * x)), (SAMPLES, _noise(0.05)),
                     info=_curve_info))


def _series_info(o):
    return DataInfo((o["window"], 1), "float32", SEQUENCE, REAL)


def _sine_series(o):
    rng, n, w = _rng(), o["samples"], o["window"]
    t = np.arange(n + w)
    s = np.sin(2 * np.pi * t / o["period"]) + rng.normal(0, o["noise"], t.shape)
    idx = np.arange(n)[:, None] + np.arange(w)[None, :]
    x = s[idx][..., None]
    y = s[w:w + n][:, None]
    return RawData(x.astype(np.float32), y.astype(np.float32), _series_info(o), ordered=True)


register(DatasetSpec("sine_series", "Sequences", "A noisy sine wave cut into windows of T "
                     "steps (N×T×1); the target is the next value.", SEQUENCE, _sine_series,
                     (SAMPLES, Param("window", INT, 20, "time steps per sample", min=2,
                                     max=10_000),
                      Param("period", FLOAT, 25.0, "steps per sine period", min=2.0,
                            max=1e6),
                      _noise(0.1)),
                     info=_series_info))


# ---- text -----------------------------------------------------------------------------------

def _reviews_info(o):
    return DataInfo((o["max_len"],), "int64", CLASSIFICATION, CLASS, 2,
                    ("negative", "positive"), vocab_size=_vocab_size(o))


def _vocab_size(o):
    tokens = [text.tokenize(s) for s, _ in text.reviews()]
    return len(text.build_vocab(tokens, o["vocab_size"]))


def _reviews(o):
    pairs = text.reviews()
    tokens = [text.tokenize(s) for s, _ in pairs]
    vocab = text.build_vocab(tokens, o["vocab_size"])
    x = np.array([text.pad(text.numericalize(t, vocab), o["max_len"]) for t in tokens],
                 dtype=np.int64)
    y = np.array([label for _, label in pairs], dtype=np.int64)
    return RawData(x, y, _reviews_info(o))


register(DatasetSpec("tiny_reviews", "Text", "600 short movie reviews shipped with "
                     "netbuilder, positive or negative; tokenized, numericalized and "
                     "left-padded to max_len token ids.", CLASSIFICATION, _reviews,
                     (Param("max_len", INT, 16, "tokens per review (longer ones are cut)",
                            min=1, max=512),
                      Param("vocab_size", INT, 512, "largest vocabulary, padding and "
                            "unknown included", min=3, max=100_000)),
                     info=_reviews_info))
