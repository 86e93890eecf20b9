"""Hand-written nn.Modules equal, layer for layer, to shipped examples.

Layer sequences are copied from netbuilder/examples/<name>.json; `copy_weights` copies the
compiled module's state_dict into them (matched by position, with names and shapes checked).
"""
from __future__ import annotations

import torch
from torch import nn


class DigitsCNN(nn.Module):
    """examples/digits_cnn.json: Input 1×8×8 -> Conv(16,3,p1,no bias) -> BN -> ReLU ->
    Conv(32,3,p1,no bias) -> BN -> ReLU -> MaxPool(2) -> Flatten -> Dropout(0.2) ->
    Linear(512->10)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, stride=1, padding=1, dilation=1, groups=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16, eps=1e-5, momentum=0.1)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(16, 32, 3, stride=1, padding=1, dilation=1, groups=1, bias=False)
        self.bn2 = nn.BatchNorm2d(32, eps=1e-5, momentum=0.1)
        self.relu2 = nn.ReLU()
        self.pool = nn.MaxPool2d(2, stride=2, padding=0)
        self.flatten = nn.Flatten()
        self.dropout = nn.Dropout(0.2)
        self.fc = nn.Linear(32 * 4 * 4, 10, bias=True)

    def forward(self, x):
        x = self.relu1(self.bn1(self.conv1(x)))
        x = self.relu2(self.bn2(self.conv2(x)))
        x = self.pool(x)
        x = self.flatten(x)
        x = self.dropout(x)
        return self.fc(x)


class ResidualCNN(nn.Module):
    """examples/residual_cnn.json: Conv(16) -> BN -> ReLU = h; h -> Conv(16) -> BN -> ReLU ->
    Conv(16) -> BN, + h -> ReLU -> AdaptiveAvgPool(1) -> Flatten -> Linear(16->10)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16, eps=1e-5, momentum=0.1)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(16, 16, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(16, eps=1e-5, momentum=0.1)
        self.relu2 = nn.ReLU()
        self.conv3 = nn.Conv2d(16, 16, 3, padding=1, bias=False)
        self.bn3 = nn.BatchNorm2d(16, eps=1e-5, momentum=0.1)
        self.relu3 = nn.ReLU()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(16, 10, bias=True)

    def forward(self, x):
        h = self.relu1(self.bn1(self.conv1(x)))
        y = self.relu2(self.bn2(self.conv2(h)))
        y = self.bn3(self.conv3(y))
        y = self.relu3(y + h)  # the example's Add: in1 = block output, in2 = skip
        return self.fc(self.flatten(self.pool(y)))


MODELS = {"digits_cnn": DigitsCNN, "residual_cnn": ResidualCNN}


def copy_weights(src: nn.Module, dst: nn.Module) -> None:
    """Load src's state_dict into dst, pairing entries by position. Both modules register
    their layers in the same order; the last name component and the shape must agree."""
    s, d = src.state_dict(), dst.state_dict()
    if len(s) != len(d):
        raise AssertionError(f"state_dict sizes differ: {list(s)} vs {list(d)}")
    mapped = {}
    for (sk, sv), (dk, dv) in zip(s.items(), d.items()):
        if sk.rsplit(".", 1)[-1] != dk.rsplit(".", 1)[-1] or sv.shape != dv.shape:
            raise AssertionError(f"layer mismatch: {sk} {tuple(sv.shape)} vs "
                                 f"{dk} {tuple(dv.shape)}")
        mapped[dk] = sv.clone()
    dst.load_state_dict(mapped, strict=True)


def check_equal(fx_mod: nn.Module, hand: nn.Module, x: torch.Tensor, y: torch.Tensor) -> None:
    """Outputs (eval and train mode, same dropout seed) and gradients must be identical."""
    import torch.nn.functional as F

    fx_mod.eval(), hand.eval()
    with torch.no_grad():
        a, b = fx_mod(x), hand(x)
    torch.testing.assert_close(a, b, rtol=0, atol=0, msg="eval outputs differ")
    fx_mod.train(), hand.train()
    outs, grads = [], []
    for m in (fx_mod, hand):
        m.zero_grad(set_to_none=True)
        torch.manual_seed(1234)
        out = m(x)
        F.cross_entropy(out, y).backward()
        outs.append(out.detach())
        grads.append([p.grad for p in m.parameters()])
    torch.testing.assert_close(outs[0], outs[1], rtol=0, atol=0, msg="train outputs differ")
    for ga, gb in zip(*grads):
        torch.testing.assert_close(ga, gb, rtol=0, atol=0, msg="gradients differ")
    # The train-mode forward above moved the BatchNorm running statistics of both modules
    # by the same amount, so they are still equal.
    for (ka, va), (kb, vb) in zip(fx_mod.state_dict().items(), hand.state_dict().items()):
        torch.testing.assert_close(va, vb, rtol=0, atol=0, msg=f"{ka} vs {kb} differ")
