"""The user's own data: a folder of images (one sub-folder per class) and a CSV file."""
from __future__ import annotations

from ..core.registry import BOOL, CHOICE, INT, STR, Param
from . import csvfile, imagefolder
from .registry import CLASSIFICATION, REGRESSION, DatasetSpec, register
from .resources import MEMORY


# ---- image folder -----------------------------------------------------------------------

register(DatasetSpec("image_folder", "Your data", "Images from a folder with one sub-folder "
                     "per class, resized to size×size.", CLASSIFICATION,
                     imagefolder.raw,
                     (Param("path", STR, "", "the folder of class folders"),
                      Param("size", INT, 32, "images are resized to size×size", min=4,
                            max=1024),
                      Param("grayscale", BOOL, False, "read one grey channel instead of RGB"),
                      Param("resize", INT, 0, "first resize the shorter side to this, then "
                            "cut out the centre size×size (0: resize straight to size)",
                            min=0, max=4096),
                      Param("mean", STR, "", "fixed per-channel means on the 0-1 scale, e.g. "
                            "a pretrained model's (empty: from the training images)"),
                      Param("std", STR, "", "fixed per-channel standard deviations, with "
                            "mean"),
                      MEMORY),
                     prepared=imagefolder.prepared, quick_info=imagefolder.quick_info,
                     preview=imagefolder.preview))


# ---- CSV ------------------------------------------------------------------------------------

register(DatasetSpec("csv", "Your data", "A CSV file with a header row: feature columns (numbers, "
                     "or categories with a role) and one target column.", CLASSIFICATION,
                     csvfile.load_csv,
                     (Param("path", STR, "", "the CSV file"),
                      Param("target", STR, "", "the target column (default: the last)"),
                      Param("task", CHOICE, "auto", "classification or regression; auto "
                            "guesses from the target's values",
                            choices=("auto", CLASSIFICATION, REGRESSION)),
                      Param("roles", STR, "", "column roles, e.g. 'colour=onehot, id=ignore' "
                            "(feature, ignore, onehot, index); other columns are numeric "
                            "features"),
                      Param("missing", CHOICE, "refuse", "missing or non-numeric cells: refuse "
                            "(stop, naming the cell), drop the row, or fill (column mean)",
                            choices=csvfile.MISSING),
                      MEMORY),
                     prepared=lambda *a: _stream().prepared(*a),
                     quick_info=lambda o: _stream().quick_info(o),
                     preview=lambda *a: _stream().preview(*a)))


def _stream():
    from . import csvstream  # torch: imported when a CSV is loaded, not with the registry

    return csvstream
