"""The offline datasets: shapes as declared, seeded splits, normalization, text pipeline."""
import numpy as np
import pytest
import torch

from netbuilder.data import DataError, all_specs, get, load
from netbuilder.data import text

OFFLINE = sorted(s.name for s in all_specs() if s.offline and s.category != "Your data")


@pytest.mark.parametrize("name", OFFLINE)
def test_builtin_loads_with_the_declared_shape(name):
    spec = get(name)
    info = spec.describe()
    data = load(name, seed=0)
    assert data.info == info
    n = len(data.train) + len(data.val) + len(data.test)
    assert len(data.val) == pytest.approx(0.15 * n, abs=2)
    assert len(data.test) == pytest.approx(0.15 * n, abs=2)
    x, y = data.batch(data.train, torch.arange(5), train=True)
    assert tuple(x.shape) == (5, *info.input_shape)
    assert x.dtype == (torch.int64 if info.input_dtype == "int64" else torch.float32)
    if info.is_classification:
        assert y.dtype == torch.int64 and int(y.max()) < info.num_classes
        assert len(info.class_names) == info.num_classes
    else:
        assert y.dtype == torch.float32 and tuple(y.shape) == (5, info.target_width)
    assert torch.isfinite(data.train.x.float()).all()


def test_split_is_seeded_disjoint_and_stratified():
    a, b, c = load("iris", seed=1), load("iris", seed=1), load("iris", seed=2)
    assert torch.equal(a.test.x, b.test.x) and not torch.equal(a.test.x, c.test.x)
    rows = [tuple(r.tolist()) for s in (a.train, a.val, a.test) for r in s.x]
    assert len(set(rows)) == len(rows) - _duplicates_in_iris()
    # stratified: each species is a third of the test split
    assert sorted(np.bincount(a.test.y.numpy()).tolist()) == [7, 7, 8]


def _duplicates_in_iris():
    from sklearn.datasets import load_iris

    x = load_iris().data
    return len(x) - len({tuple(r) for r in x})


def test_normalization_uses_training_statistics_only():
    d = load("wine", seed=0)
    assert d.train.x.mean(0).abs().max() < 1e-4
    assert (d.train.x.std(0) - 1).abs().max() < 0.01
    assert d.val.x.mean(0).abs().max() > 1e-3  # val is scaled with train's numbers
    raw = load("wine", {"normalize": False}, seed=0)
    assert raw.mean is None and raw.train.x.max() > 100  # proline is in the hundreds


def test_images_are_normalized_per_channel():
    d = load("digits", seed=0)
    assert d.mean.shape == (1, 1, 1) and abs(float(d.train.x.mean())) < 1e-4


def test_series_split_in_time_order_and_target_is_next_value():
    d = load("sine_series", {"normalize": False, "noise": 0.0}, seed=3)
    x, y = d.train.x, d.train.y
    assert torch.allclose(x[1:, -1, 0], y[:-1, 0])  # next window ends with this target
    assert torch.allclose(d.val.x[0, -1, 0], y[-1, 0])  # val follows train in time


def test_augmentation_changes_training_images_only():
    d = load("digits", {"augment": True}, seed=0)
    torch.manual_seed(0)
    a, _ = d.batch(d.train, torch.arange(16), train=True)
    b, _ = d.batch(d.train, torch.arange(16), train=True)
    assert a.shape == (16, 1, 8, 8) and not torch.equal(a, b)
    v1, _ = d.batch(d.val, torch.arange(16))
    v2, _ = d.batch(d.val, torch.arange(16))
    assert torch.equal(v1, v2)


def test_augmentation_on_a_table_is_refused():
    with pytest.raises(DataError, match="image datasets only"):
        load("iris", {"augment": True})


@pytest.mark.parametrize("name, options, message", [
    ("mnits", {}, "unknown dataset 'mnits'; known datasets: .*mnist"),
    ("spirals", {"nosie": 0.1}, "no option 'nosie' .*noise"),
    ("spirals", {"samples": 5}, "option samples must be at least 20"),
    ("tiny_reviews", {"max_len": "long"}, "option max_len must be a whole number"),
    ("iris", {"val_fraction": 0.5, "test_fraction": 0.45}, "at least 10% of the data"),
])
def test_bad_choices_are_named(name, options, message):
    with pytest.raises(DataError, match=message):
        load(name, options)


def test_text_pipeline_tokenize_numericalize_pad():
    assert text.tokenize("The plot was NOT bad, honestly!") == \
        ["the", "plot", "was", "not", "bad", ",", "honestly", "!"]
    vocab = text.build_vocab([["a", "b", "b"], ["b", "c"]], max_size=4)
    assert vocab == {"<pad>": 0, "<unk>": 1, "b": 2, "a": 3}
    assert text.numericalize(["b", "zzz", "a"], vocab) == [2, 1, 3]
    assert text.pad([5, 6], 4) == [0, 0, 5, 6]  # left-padded: sequences end on words
    assert text.pad([1, 2, 3, 4, 5], 3) == [3, 4, 5]


def test_review_corpus_is_balanced_and_fits_the_example_embedding():
    pairs = text.reviews()
    assert len(pairs) >= 300 and len({s for s, _ in pairs}) > 0.8 * len(pairs)
    assert sum(label for _, label in pairs) == len(pairs) // 2
    info = get("tiny_reviews").describe({"max_len": 16})
    assert info.input_shape == (16,) and info.input_dtype == "int64"
    assert 50 < info.vocab_size <= 512
    d = load("tiny_reviews", seed=0)
    assert int(d.train.x.max()) < info.vocab_size and int(d.train.x.min()) == 0


def test_info_sets_up_the_input_node_and_loss():
    """What the editor reads to configure a graph for a dataset."""
    from netbuilder.api import example
    from netbuilder.training.config import check

    for name in ("digits_cnn", "text_gru", "sine_lstm", "square_regression", "spirals_mlp"):
        p = example(name)
        info = get(p.dataset.name).describe(p.dataset.options)
        inp = next(n for n in p.graph.nodes.values() if n.type == "Input")
        assert {**{"dtype": "float32"}, **inp.params} == info.input_params()
        assert check(p.graph, p.training, info, p.dataset.name).output_width == \
            info.output_width
    assert get("digits").describe().default_loss == "cross_entropy"
    assert get("sine_series").describe().default_loss == "mse"
