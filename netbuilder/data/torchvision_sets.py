"""MNIST, FashionMNIST and CIFAR-10 through torchvision, read from a local folder.

Nothing is downloaded unless the user sets the option download=true; when the files are
missing the message says where netbuilder looked and what to do."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..core.registry import BOOL, STR, Param
from .registry import CLASS, CLASSIFICATION, DataError, DataInfo, DatasetSpec, RawData, register

DEFAULT_ROOT = os.path.join("~", ".cache", "netbuilder", "datasets")

ROOT = Param("root", STR, DEFAULT_ROOT, "folder holding the downloaded files")
DOWNLOAD = Param("download", BOOL, False, "download the files when missing (needs internet)")

FASHION = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
           "Sneaker", "Bag", "Ankle boot")
CIFAR = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
         "truck")


def _info(shape, classes):
    return lambda o: DataInfo(shape, "float32", CLASSIFICATION, CLASS, len(classes),
                              tuple(classes))


def _open(cls_name, o, train):
    import torchvision.datasets as tvd

    root = Path(os.path.expanduser(o["root"]))
    try:
        return getattr(tvd, cls_name)(str(root), train=train, download=o["download"])
    except RuntimeError as e:
        if "not found" in str(e).lower() or "corrupted" in str(e).lower():
            raise DataError(
                f"{cls_name} is not in {root}. Set the dataset option download=true to fetch "
                f"it (needs internet; about {'170' if cls_name == 'CIFAR10' else '30'} MB), or "
                f"copy torchvision's {cls_name} files into that folder, or point the option "
                f"root at a folder that has them.") from None
        raise DataError(f"{cls_name} in {root}: {e}") from None
    except OSError as e:  # URLError, socket errors, permission problems
        raise DataError(f"downloading {cls_name} into {root} failed ({e}); this computer "
                        f"may be offline. Copy the files there by hand, or train on an "
                        f"offline dataset such as digits.") from None


def _loader(cls_name, shape, classes, augment=None):
    def load(o):
        def arrays(train):
            ds = _open(cls_name, o, train)
            x = np.asarray(ds.data, dtype=np.uint8)
            x = x.transpose(0, 3, 1, 2) if x.ndim == 4 else x[:, None]  # N×C×H×W
            return np.ascontiguousarray(x), np.asarray(ds.targets, dtype=np.int64)
        x, y = arrays(True)
        return RawData(x, y, _info(shape, classes)(o), image=True, test=arrays(False),
                       augment=augment)
    return load


def _shift():
    from torchvision.transforms import v2

    return v2.RandomAffine(degrees=10, translate=(0.1, 0.1))


def _flip_crop():
    from torchvision.transforms import v2

    return v2.Compose([v2.RandomCrop(32, padding=4), v2.RandomHorizontalFlip()])


for _name, _cls, _shape, _classes, _aug, _doc in (
        ("mnist", "MNIST", (1, 28, 28), tuple(str(i) for i in range(10)), _shift,
         "70,000 handwritten digits, 1×28×28 (the official 10,000 form the test split)."),
        ("fashion_mnist", "FashionMNIST", (1, 28, 28), FASHION, _shift,
         "70,000 pictures of clothing, 1×28×28, 10 classes."),
        ("cifar10", "CIFAR10", (3, 32, 32), CIFAR, _flip_crop,
         "60,000 colour photos, 3×32×32, 10 classes.")):
    register(DatasetSpec(_name, "Images (torchvision)", _doc, CLASSIFICATION,
                         _loader(_cls, _shape, _classes, _aug), (ROOT, DOWNLOAD),
                         info=_info(_shape, _classes), offline=False))
