"""train.py: reproduces the project's data, loss, optimizer and schedule with plain PyTorch.

It runs standalone (`python train.py`) and distributed (`torchrun --nproc_per_node=N
train.py`: DistributedDataParallel, DistributedSampler, logging and checkpoints on rank 0).
It never imports netbuilder: the built-in datasets are generated inline (numpy, or
scikit-learn for digits/moons/circles/blobs); an image folder is read with PIL and a CSV
with polars, then split and normalized exactly as netbuilder does (trainscript_data.py).
"""
from __future__ import annotations

from string import Template

from ..core.project import Project
from .trainscript_data import user_data_source

# name -> (python source of load_data(), packages it needs). load_data returns
# (X float32 array, y array, is_classification).
DATASETS = {
    "digits": ('''
def load_data():
    """scikit-learn's 8x8 handwritten digits (1797 images, 10 classes), scaled to [0, 1]."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    keep = {"all": range(10), "0-4": range(5), "5-9": range(5, 10)}[OPTIONS.get("digits", "all")]
    mask = np.isin(digits.target, list(keep))
    return digits.images[mask].astype(np.float32) / 16.0, digits.target[mask] - min(keep), True
''', ["scikit-learn"]),
    "spirals": ('''
def load_data():
    """Two interleaved spirals (2 classes)."""
    rng = np.random.default_rng(SEED)
    n = OPTIONS.get("samples", 1000) // 2
    noise = OPTIONS.get("noise", 0.1)
    theta = np.sqrt(rng.random(n)) * 3 * np.pi
    arm = np.stack([theta * np.cos(theta), theta * np.sin(theta)], axis=1) / (3 * np.pi)
    X = np.concatenate([arm, -arm]) + rng.normal(0, noise, (2 * n, 2)) * 0.1
    y = np.concatenate([np.zeros(n), np.ones(n)]).astype(np.int64)
    return X.astype(np.float32), y, True
''', []),
    "square": ('''
def load_data():
    """y = x² on [-1, 1] (regression)."""
    rng = np.random.default_rng(SEED)
    n = OPTIONS.get("samples", 256)
    x = rng.uniform(-1, 1, (n, 1))
    y = x ** 2 + rng.normal(0, OPTIONS.get("noise", 0.0), (n, 1))
    return x.astype(np.float32), y.astype(np.float32), False
''', []),
    "moons": ('''
def load_data():
    """Two interleaving half circles (scikit-learn make_moons)."""
    from sklearn.datasets import make_moons

    X, y = make_moons(OPTIONS.get("samples", 1000), noise=OPTIONS.get("noise", 0.1),
                      random_state=SEED)
    return X.astype(np.float32), y, True
''', ["scikit-learn"]),
    "circles": ('''
def load_data():
    """A circle inside a circle (scikit-learn make_circles)."""
    from sklearn.datasets import make_circles

    X, y = make_circles(OPTIONS.get("samples", 1000), noise=OPTIONS.get("noise", 0.05),
                        factor=0.5, random_state=SEED)
    return X.astype(np.float32), y, True
''', ["scikit-learn"]),
    "blobs": ('''
def load_data():
    """Gaussian clusters, one per class (scikit-learn make_blobs)."""
    from sklearn.datasets import make_blobs

    X, y = make_blobs(OPTIONS.get("samples", 500), n_features=OPTIONS.get("features", 2),
                      centers=OPTIONS.get("classes", 2), random_state=SEED)
    return X.astype(np.float32), y, True
''', ["scikit-learn"]),
    "sine_series": ('''
def load_data():
    """Windows of a noisy sine wave; the target is the next value (regression)."""
    rng = np.random.default_rng(SEED)
    window = OPTIONS.get("window", 20)
    t = np.arange(OPTIONS.get("samples", 1000) + window) * 0.1
    wave = np.sin(t) + rng.normal(0, OPTIONS.get("noise", 0.05), t.shape)
    X = np.stack([wave[i:i + window] for i in range(len(t) - window)])
    y = wave[window:, None]
    return X.astype(np.float32), y.astype(np.float32), False
''', []),
}

# make_datasets() for the built-in datasets: a seeded 80/20 split, no test split.
BUILTIN_SPLIT = '''

def make_datasets():
    X, y, classification = load_data()
    X = torch.as_tensor(X).reshape(len(X), *INPUT_SHAPE)
    y = torch.as_tensor(y)
    if classification and $class_targets:
        y = y.long()
    elif classification:  # class ids as one-hot rows for a regression-style loss
        y = nn.functional.one_hot(y.long()).float()
    else:
        y = y.float()
    order = torch.randperm(len(X), generator=torch.Generator().manual_seed(SEED))
    n_val = max(1, len(X) // 5)  # the same 80/20 split on every rank
    val, train = order[:n_val], order[n_val:]
    return TensorDataset(X[train], y[train]), TensorDataset(X[val], y[val]), None, classification
'''

UNSUPPORTED = '''
def load_data():
    raise NotImplementedError(
        "train.py cannot generate the dataset {name!r} by itself; replace load_data() with "
        "code that returns (X, y, is_classification): X a float32 array shaped like the "
        "model input, y the targets")
'''

LOSSES = {
    "mse": "nn.MSELoss()", "l1": "nn.L1Loss()", "huber": "nn.HuberLoss()",
    "bce": "nn.BCELoss()", "bce_with_logits": "nn.BCEWithLogitsLoss()",
    "cross_entropy": "nn.CrossEntropyLoss()", "nll": "nn.NLLLoss()",
    "hinge": "nn.MultiMarginLoss()",  # multi-class hinge loss on class ids
    "quantile": "PinballLoss(0.5)",
}
CLASS_TARGET_LOSSES = {"cross_entropy", "nll", "hinge"}

PINBALL = '''

class PinballLoss(nn.Module):
    """Quantile (pinball) loss for quantile q."""

    def __init__(self, q):
        super().__init__()
        self.q = q

    def forward(self, pred, target):
        diff = target - pred
        return torch.maximum(self.q * diff, (self.q - 1) * diff).mean()
'''


def _optimizer(t) -> str:
    wd = t.weight_decay
    return {
        "sgd": f"torch.optim.SGD(params, lr=LR, momentum={t.momentum}, "
               f"nesterov={t.nesterov and t.momentum > 0}, weight_decay={wd})",
        "adagrad": f"torch.optim.Adagrad(params, lr=LR, weight_decay={wd})",
        "rmsprop": f"torch.optim.RMSprop(params, lr=LR, momentum={t.momentum}, "
                   f"weight_decay={wd})",
        "adam": f"torch.optim.Adam(params, lr=LR, weight_decay={wd})",
        "adamw": f"torch.optim.AdamW(params, lr=LR, weight_decay={wd})",
    }[t.optimizer]


def _schedule(t) -> tuple[str, str]:
    """(construction, where it steps: 'batch' | 'epoch' | 'plateau' | '')."""
    return {
        "none": ("None", ""),
        "step": ("torch.optim.lr_scheduler.StepLR(optimizer, step_size=max(1, epochs // 3), "
                 "gamma=0.1)", "epoch"),
        "cosine": ("torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)",
                   "epoch"),
        "onecycle": ("torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=[g['lr'] for g "
                     "in params], total_steps=epochs * len(train_loader))", "batch"),
        "plateau": ("torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.5, "
                    "patience=5)", "plateau"),
    }[t.schedule]


SCRIPT = Template('''"""Train $cls ($name) with plain PyTorch: generated by netbuilder.

    python train.py                              # one process (GPU if there is one)
    torchrun --nproc_per_node=4 train.py         # DistributedDataParallel on 4 processes

Loss $loss, optimizer $optimizer (lr $lr), schedule $schedule, $epochs epochs, batch size
$batch_size per process. Rank 0 logs and writes checkpoints to --out. Needs PyTorch$extra.
"""
import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

sys.path.insert(0, str(Path(__file__).resolve().parent))  # model.py sits beside this file
from model import $cls  # noqa: E402

SEED = $seed
LR = $lr
EPOCHS = $epochs
BATCH_SIZE = $batch_size
DEVICE = "$device"  # auto | cpu | cuda | mps
MIXED_PRECISION = $mixed  # float16 autocast, CUDA only
INPUT_SHAPE = $input_shape  # one sample, without the batch
OPTIONS = $options  # dataset options from the project
FROZEN = $frozen  # modules whose weights do not train (BatchNorm stays in eval mode)
LR_MULTIPLIERS = $multipliers  # module -> learning-rate multiplier (others: 1)
$data$pinball

def _stay_in_eval(module, mode=True):
    return nn.Module.train(module, False)


def parameter_groups(net):
    """Freeze FROZEN (no gradient, not in the optimizer, running statistics kept) and
    group the other parameters by their learning-rate multiplier."""
    for name in FROZEN:
        module = net.get_submodule(name)
        for p in module.parameters():
            p.requires_grad_(False)
        for m in module.modules():
            if isinstance(m, nn.modules.batchnorm._NormBase):
                m.train = _stay_in_eval.__get__(m)
                m.eval()
    groups = {}
    for name, p in net.named_parameters():
        if p.requires_grad:
            mult = next((v for k, v in LR_MULTIPLIERS.items()
                         if name == k or name.startswith(k + ".")), 1.0)
            groups.setdefault(mult, []).append(p)
    return [{"params": ps, "lr": LR * mult} for mult, ps in groups.items()]


def setup_distributed():
    """(rank, world size, device); a process group only when started by torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    cuda = torch.cuda.is_available() and DEVICE in ("auto", "cuda")
    if world > 1:
        dist.init_process_group("nccl" if cuda else "gloo")
    if cuda:
        torch.cuda.set_device(local_rank)
        device = torch.device("cuda", local_rank)
    elif DEVICE in ("auto", "mps") and world == 1 and torch.backends.mps.is_available():
        device = torch.device("mps")
    else:
        device = torch.device("cpu")
    return rank, world, device


def evaluate(model, loader, loss_fn, device, classification):
    model.eval()
    total, correct, count = 0.0, 0, 0
    with torch.no_grad():
        for x, y in loader:
            x, y = x.to(device), y.to(device)
            out = model(x)
            total += loss_fn(out, y).item() * len(x)
            if classification and y.dtype == torch.long:
                correct += (out.argmax(1) == y).sum().item()
            count += len(x)
    if not count:  # val_fraction or test_fraction 0
        return float("nan"), None
    return total / count, (correct / count if classification else None)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--batch-size", type=int, default=BATCH_SIZE)
    parser.add_argument("--out", default="checkpoints", help="folder for checkpoints")
    parser.add_argument("--save-every-rank", action="store_true",
                        help="also save each rank's final weights (to check they agree)")
    args = parser.parse_args()
    epochs = args.epochs

    rank, world, device = setup_distributed()
    torch.manual_seed(SEED)  # same initial weights everywhere (DDP also syncs them)
    train_set, val_set, test_set, classification = make_datasets()
    model = $cls().to(device)
    params = parameter_groups(model)  # before DDP: it records which parameters train
    if world > 1:
        model = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    net = model.module if world > 1 else model
    sampler = DistributedSampler(train_set, num_replicas=world, rank=rank, shuffle=True,
                                 seed=SEED) if world > 1 else None
    train_loader = DataLoader(train_set, batch_size=args.batch_size, shuffle=sampler is None,
                              sampler=sampler, generator=torch.Generator().manual_seed(SEED))
    val_loader = DataLoader(val_set, batch_size=512)
    loss_fn = $loss_code
    optimizer = $optimizer_code
    scheduler = $schedule_code
    amp = MIXED_PRECISION and device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=amp)
    out = Path(args.out)
    if rank == 0:
        out.mkdir(parents=True, exist_ok=True)
        print(f"training on {world} process(es), device {device}, {len(train_set)} training "
              f"and {len(val_set)} validation samples", flush=True)

    for epoch in range(1, epochs + 1):
        if sampler is not None:
            sampler.set_epoch(epoch)  # a different shuffle each epoch, same on all ranks
        model.train()
        start, seen, running = time.perf_counter(), 0, 0.0
        for x, y in train_loader:
            x, y = x.to(device), y.to(device)
            optimizer.zero_grad(set_to_none=True)
            with torch.autocast(device.type, dtype=torch.float16, enabled=amp):
                loss = loss_fn(model(x), y)
            scaler.scale(loss).backward()  # DDP averages the gradients across ranks here
            scaler.step(optimizer)
            scaler.update()
$batch_step            running += loss.item() * len(x)
            seen += len(x)
        if world > 1:  # BatchNorm statistics: every rank keeps rank 0's, as DDP does
            for buffer in net.buffers():
                dist.broadcast(buffer, 0)
        val_loss, val_acc = evaluate(net, val_loader, loss_fn, device, classification)
$epoch_step        if rank == 0:
            acc = f" val_acc {val_acc:.3f}" if val_acc is not None else ""
            print(f"epoch {epoch}/{epochs} loss {running / max(seen, 1):.4f} val_loss "
                  f"{val_loss:.4f}{acc} lr {optimizer.param_groups[0]['lr']:.3g} "
                  f"({time.perf_counter() - start:.1f}s)", flush=True)
            torch.save({"epoch": epoch, "model": net.state_dict(),
                        "optimizer": optimizer.state_dict()}, out / "last.pt")
    if rank == 0 and test_set is not None and len(test_set):  # held out, as in netbuilder
        test_loss, test_acc = evaluate(net, DataLoader(test_set, batch_size=512), loss_fn,
                                       device, classification)
        acc = f" test_acc {test_acc:.3f}" if test_acc is not None else ""
        print(f"test_loss {test_loss:.4f}{acc} ({len(test_set)} test samples)", flush=True)
    if rank == 0:
        torch.save(net.state_dict(), out / "weights.pt")
        print(f"saved {out / 'weights.pt'}", flush=True)
    if args.save_every_rank:
        out.mkdir(parents=True, exist_ok=True)
        torch.save(net.state_dict(), out / f"weights_rank{rank}.pt")
    if world > 1:
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
''')


def _tuning(project: Project) -> tuple[list[str], dict[str, float]]:
    """(frozen module names, module -> multiplier) of the compiled graph, whose module
    names are model.py's."""
    from ..core.tuning import effective_tuning, has_tuning

    if not has_tuning(project.graph):
        return [], {}
    from ..core.compiler import compile_graph

    settings = effective_tuning(compile_graph(project.graph), project.graph)
    frozen = [q for q, t in settings.items() if t.frozen]
    return frozen, {q: t.lr_mult for q, t in settings.items()
                    if not t.frozen and t.lr_mult != 1.0}


def train_script(project: Project, cls: str) -> tuple[str, list[str]]:
    """(source of train.py, notes for the user)."""
    t = project.training
    notes = []
    ds = project.dataset.name if project.dataset else None
    options = dict(project.dataset.options) if project.dataset else {}
    class_targets = t.loss in CLASS_TARGET_LOSSES
    builtin_split = Template(BUILTIN_SPLIT).substitute(class_targets=class_targets)
    user = user_data_source(project, class_targets)
    if user is not None:  # the user's image folder or CSV: read with PIL / polars
        data, packages, more = user
        notes += more
    elif ds in DATASETS:
        data, packages = DATASETS[ds]
        data += builtin_split
    else:
        data, packages = UNSUPPORTED.format(name=ds or "(none)") + builtin_split, []
        notes.append(f"train.py cannot generate dataset {ds!r} without netbuilder; edit its "
                     f"load_data()")
    inputs = [n for n in project.graph.nodes.values() if n.type == "Input"]
    if len(inputs) != 1:
        notes.append("train.py feeds one input; adapt it for several")
    shape = tuple(inputs[0].params["shape"]) if inputs else ()
    frozen, multipliers = _tuning(project)
    step_code, step = _schedule(t)
    text = SCRIPT.substitute(
        cls=cls, name=project.name, loss=t.loss, optimizer=t.optimizer, lr=t.lr,
        schedule=t.schedule, epochs=t.epochs, batch_size=t.batch_size, seed=t.seed,
        device=t.device, mixed=t.mixed_precision, input_shape=repr(shape),
        options=repr(options), data=data, pinball=PINBALL if t.loss == "quantile" else "",
        loss_code=LOSSES[t.loss],
        optimizer_code=_optimizer(t), schedule_code=step_code,
        batch_step="            scheduler.step()\n" if step == "batch" else "",
        epoch_step={"epoch": "        scheduler.step()\n",
                    "plateau": "        scheduler.step(val_loss)\n"}.get(step, ""),
        extra=(" and " + ", ".join(packages)) if packages else "",
        frozen=repr(frozen), multipliers=repr(multipliers),
    )
    return text, notes
