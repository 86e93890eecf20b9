"""One rule for class probabilities (live decision boundary, Results, try-it box)."""
import pytest
import torch

from netbuilder.training.probabilities import probabilities


def test_cross_entropy_scores_become_a_softmax():
    out = torch.tensor([[2.0, 0.0, -1.0]])
    assert torch.allclose(probabilities(out, "cross_entropy"), torch.softmax(out, 1))


def test_nll_log_probabilities_are_exponentiated():
    p = torch.tensor([[0.7, 0.2, 0.1]])
    assert torch.allclose(probabilities(p.log(), "nll"), p)


def test_bce_with_logits_gets_a_sigmoid_per_output():
    out = torch.tensor([[0.0, 2.0], [-3.0, 1.0]])
    assert torch.allclose(probabilities(out, "bce_with_logits"), torch.sigmoid(out))


def test_bce_outputs_are_already_probabilities():
    p = torch.tensor([[0.9, 0.3], [0.2, 0.6]])
    assert torch.allclose(probabilities(p, "bce"), p)  # not renormalised to sum to 1


@pytest.mark.parametrize("loss, threshold, want", [
    ("bce_with_logits", 0.0, torch.sigmoid(torch.tensor(1.5)).item()),
    ("bce", 0.5, 1.0),  # 1.5 is out of [0, 1]: clamped
    ("mse", 0.5, 1.0),
])
def test_one_output_for_two_classes(loss, threshold, want):
    got = probabilities(torch.tensor([[1.5], [0.25]]), loss, threshold)
    assert got.shape == (2, 2)
    assert got[0, 1].item() == pytest.approx(want, abs=1e-6)
    assert torch.allclose(got.sum(1), torch.ones(2))
