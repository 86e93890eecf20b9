"""train.py's data for the user's own data (image folder, CSV), prepared as netbuilder does.

The rules are netbuilder's (data/imagefiles.py, imagefolder.py, csvfile.py, csvstream.py,
prepare.py), written out plainly so train.py gives its model the same tensors as
netbuilder's training: class folders and their files in netbuilder's order; images resized
straight or (option resize) their shorter side resized and the centre cut out, as for
pretrained weights; the same seeded, stratified train / validation / test split; inputs
standardized with the training split's statistics (of a sample of training images when
netbuilder streams the folder), or with the fixed mean/std options (pretrained weights'
own); the flip-and-crop augmentation of training images; CSV column roles (ignore,
onehot, index) and missing-cell rules (refuse, drop, fill). A CSV's class names are
taken from netbuilder at export, so train.py numbers the classes as netbuilder did.
"""
from __future__ import annotations

# Used by both: netbuilder's split (data/prepare.py split_indices) and its target tensors.
SPLIT = '''
VAL_FRACTION = OPTIONS.get("val_fraction", 0.15)
TEST_FRACTION = OPTIONS.get("test_fraction", 0.15)
NORMALIZE = OPTIONS.get("normalize", True)


def split_indices(y, classification, ordered=False):
    """(train, validation, test) sample numbers, each in sample order: round(n ×
    test_fraction) samples held out for the test, then round(n × val_fraction) for
    validation, stratified by class when every class can be (scikit-learn, seeded by SEED
    and SEED + 1), as netbuilder splits; a time series (ordered) is cut in time order:
    train on the past, validate and test on the future."""
    n = len(y)
    if n < 10:
        raise SystemExit(f"only {n} samples; at least 10 are needed to split into train, "
                         f"validation and test")
    n_test, n_val = int(round(n * TEST_FRACTION)), int(round(n * VAL_FRACTION))
    def cut(ids, k, seed):
        from sklearn.model_selection import train_test_split  # not for a time series

        if k == 0:
            return ids, ids[:0]
        strata = y[ids] if classification and np.bincount(y[ids]).min(initial=2) >= 2 and \\
            k >= len(np.unique(y[ids])) else None
        try:
            return train_test_split(ids, test_size=k, random_state=seed, stratify=strata)
        except ValueError:  # a class too rare to stratify
            return train_test_split(ids, test_size=k, random_state=seed)
    if ordered:
        train, val, test = np.split(np.arange(n), [n - n_val - n_test, n - n_test])
    else:
        rest, test = cut(np.arange(n), n_test, SEED)
        train, val = cut(rest, n_val, SEED + 1)
    if len(train) < 2:
        raise SystemExit("the training split is empty; lower val_fraction or test_fraction")
    return np.sort(train), np.sort(val), np.sort(test)


def train_statistics(x, channel_axis, scale=1.0):
    """netbuilder's normalization statistics: the mean and standard deviation of the
    training samples x (times scale) over every axis but channel_axis, two-pass in
    float64, kept as float32; a constant feature gets std 1 (left as it is)."""
    channel_axis %= x.ndim
    axes = tuple(i for i in range(x.ndim) if i != channel_axis)
    x = x.astype(np.float64) * scale
    mean = x.mean(axis=axes, keepdims=True)[0].astype(np.float32)
    std = x.std(axis=axes, keepdims=True)[0].astype(np.float32)
    std[std < 1e-8] = 1.0
    return mean, std


def as_targets(y, classification, num_classes):
    """Class ids (long), one-hot rows for a regression-style loss, or float values."""
    y = torch.as_tensor(y)
    if classification and $class_targets:
        return y.long()
    if classification:
        return nn.functional.one_hot(y.long(), num_classes).float()
    return y.float()
'''

IMAGE_FOLDER = '''
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}
EAGER_MAX_FILES = 1024  # netbuilder streams a larger folder (and one above memory_mb)
STATS_SAMPLE = 512  # a streamed folder's statistics come from this many training images


def image_files(root):
    """(class names, files relative to root, labels) in netbuilder's order: class folders
    by name; in each, a folder's images by name, then its sub-folders by name; names
    starting with a dot left out."""
    classes = sorted(d.name for d in os.scandir(root) if d.is_dir() and not d.name.startswith("."))
    if len(classes) < 2:
        raise SystemExit(f"{root}: found {len(classes)} class folder(s); an image dataset "
                         f"needs one sub-folder per class and at least two classes")
    files, labels = [], []
    for label, name in enumerate(classes):
        found, stack = [], [name]
        while stack:
            rel = stack.pop()
            names, subdirs = [], []
            try:
                with os.scandir(root / rel) as entries:
                    for e in entries:
                        if e.name.startswith("."):
                            continue
                        if e.is_dir():
                            subdirs.append(e.name)
                        elif e.name[e.name.rfind("."):].lower() in IMAGE_SUFFIXES:
                            names.append(e.name)
            except OSError as e:
                print(f"{root / rel}: cannot list this folder ({e})", file=sys.stderr)
                continue
            found += [f"{rel}/{n}" for n in sorted(names)]
            stack += [f"{rel}/{d}" for d in sorted(subdirs, reverse=True)]
        if not found:
            raise SystemExit(f"{root / name}: class folder has no images")
        files += found
        labels += [label] * len(found)
    return classes, files, np.array(labels, np.int64)


def decode(path, mode, size, resize):
    """C×size×size uint8: resized straight to size×size (resize 0), or the shorter side
    resized to `resize` and the centre size×size cut out (how pretrained weights were
    evaluated, e.g. 256 then 224)."""
    from PIL import Image

    with Image.open(path) as im:
        side = max(size, resize)
        im.draft(mode, (side, side))  # JPEG: decoded at a reduced scale, as netbuilder does
        im = im.convert(mode)
        if not resize:
            im = im.resize((size, size), Image.BILINEAR)
        else:
            w, h = im.size
            scale = max(resize, size) / min(w, h)
            im = im.resize((max(size, round(w * scale)), max(size, round(h * scale))),
                           Image.BILINEAR)
            w, h = im.size
            left, top = (w - size) // 2, (h - size) // 2
            im = im.crop((left, top, left + size, top + size))
        a = np.asarray(im, np.uint8)
    return a[None] if a.ndim == 2 else a.transpose(2, 0, 1)


def read_images():
    """Every image file of OPTIONS["path"] decoded: (uint8 N×C×size×size, labels, which are
    usable). Unreadable, empty and oversized files stay zeros, counted on stderr.
    Everything is decoded into memory (one byte per value): for a folder larger than
    memory, replace this with a torch Dataset that decodes per item."""
    from PIL import Image

    root = Path(os.path.expanduser(OPTIONS["path"]))
    if not root.is_dir():
        raise SystemExit(f"{root}: is not a folder of class folders")
    size, resize = OPTIONS.get("size", 32), OPTIONS.get("resize", 0)
    mode = "L" if OPTIONS.get("grayscale", False) else "RGB"
    classes, files, labels = image_files(root)
    X = np.zeros((len(files), 1 if mode == "L" else 3, size, size), np.uint8)
    usable = np.ones(len(files), bool)
    for i, f in enumerate(files):
        try:
            X[i] = decode(root / f, mode, size, resize)
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
            usable[i] = False
    if not usable.all():
        bad = [files[i] for i in np.flatnonzero(~usable)]
        print(f"skipped {len(bad)} unusable image file(s): {', '.join(bad[:5])}",
              file=sys.stderr)
    if not usable.any():
        raise SystemExit(f"{root}: no usable images in {len(classes)} class folders")
    return X, labels, usable


def load_data():
    """The usable images (uint8, N×C×size×size) and their class ids."""
    X, y, usable = read_images()
    return X[usable], y[usable], True


def memory_budget():
    """netbuilder's limit for decoding a folder up front: memory_mb, or a quarter of RAM."""
    mb = OPTIONS.get("memory_mb", 0)
    if mb and mb > 0:
        return int(mb * (1 << 20))
    try:
        ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        ram = 8 << 30
    return int(ram * 0.25)


def fixed_norm(channels):
    """The options mean and std (e.g. pretrained weights' own), or None."""
    text = [OPTIONS.get(k, "").strip() for k in ("mean", "std")]
    if not any(text):
        return None
    try:
        mean, std = ([float(v) for v in t.split(",")] for t in text)
    except ValueError:
        mean = std = []
    if len(mean) != channels or len(std) != channels or min(std) <= 0:
        raise SystemExit(f"OPTIONS mean {text[0]!r} and std {text[1]!r}: give {channels} "
                         f"comma-separated numbers each, one per channel (std above 0)")
    return (np.asarray(mean, np.float32).reshape(-1, 1, 1),
            np.asarray(std, np.float32).reshape(-1, 1, 1))


def channel_stats(x, sampled):
    """Per-channel mean and std on the 0..1 scale, computed as netbuilder does: over the
    whole training split (two-pass, float64), or over a streamed folder's sample."""
    if not sampled:
        return train_statistics(x, 1, 1 / 255)
    x = x.astype(np.float32) / np.float32(255)
    count = x.size // x.shape[1]
    mean = x.sum((0, 2, 3), dtype=np.float64) / count
    squares = (x * x).sum((0, 2, 3), dtype=np.float64) / count
    std = np.sqrt(np.maximum(squares - mean * mean, 0))
    mean, std = (v.astype(np.float32).reshape(-1, 1, 1) for v in (mean, std))
    std[std < 1e-8] = 1.0  # a constant channel: leave it, don't divide by zero
    return mean, std


class Images(torch.utils.data.Dataset):
    """uint8 images scaled to 0..1, flipped and cropped (training, option augment), then
    normalized: netbuilder's batches, one sample at a time."""

    def __init__(self, x, ids, y, mean, std, augment=False):
        self.x, self.ids, self.y, self.augment = x, ids.tolist(), y, augment
        self.norm = None if mean is None else (torch.from_numpy(mean), torch.from_numpy(std))

    def __len__(self):
        return len(self.ids)

    def __getitem__(self, i):
        i = self.ids[i]
        x = self.x[i].float() * (1 / 255)
        if self.augment:  # netbuilder: RandomCrop(size, padding=size // 8), then a flip
            size = x.shape[-1]
            pad = max(1, size // 8)
            top, left = torch.randint(0, 2 * pad + 1, (2,)).tolist()
            x = nn.functional.pad(x, (pad, pad, pad, pad))[:, top:top + size, left:left + size]
            if torch.rand(()) < 0.5:
                x = x.flip(-1)
        if self.norm is not None:
            x = (x - self.norm[0]) / self.norm[1]
        return x.reshape(INPUT_SHAPE), self.y[i]


def make_datasets():
    """(train, validation, test, classification) as netbuilder prepares an image folder."""
    X, y, usable = read_images()
    channels = X.shape[1]
    streamed = len(y) > EAGER_MAX_FILES or X[0].size * len(y) > memory_budget()
    if streamed:  # netbuilder splits every file found; unusable ones drop out afterwards
        parts = split_indices(y, True)
        rng = np.random.default_rng(SEED)
        sample = np.sort(rng.choice(parts[0], min(STATS_SAMPLE, len(parts[0])), replace=False))
        stats = X[sample[usable[sample]]]
        parts = [p[usable[p]] for p in parts]
    else:
        keep = np.flatnonzero(usable)
        parts = [keep[p] for p in split_indices(y[keep], True)]
        stats = X[parts[0]]
    mean = std = None
    if NORMALIZE:
        mean, std = fixed_norm(channels) or channel_stats(stats, streamed)
    targets = as_targets(y, True, int(y.max()) + 1)
    augment = OPTIONS.get("augment", False)
    X = torch.from_numpy(X)
    sets = [Images(X, p, targets, mean, std, augment and k == 0) for k, p in enumerate(parts)]
    return (*sets, True)
'''

CSV = '''
CLASSES = $classes  # class names in netbuilder's order (None: a regression target)
MISSING_CATEGORY = "(missing)"


def _order(values):
    """Numbers by value first, then names: netbuilder's order of classes and categories."""
    def key(v):
        try:
            return (0, float(v), v)
        except ValueError:
            return (1, 0.0, v)
    return sorted(values, key=key)


def load_data():
    """The CSV OPTIONS["path"] read with polars: column roles from OPTIONS["roles"] (ignore,
    onehot, index; other columns are numbers), missing or non-numeric cells by
    OPTIONS["missing"]: refuse, drop the row, or fill (a number with its column's mean, a
    category with "(missing)"); a row without a target is dropped (never made up)."""
    import polars as pl

    path = os.path.expanduser(OPTIONS["path"])
    df = pl.read_csv(path, infer_schema=False)
    df = df.rename({c: c.strip() for c in df.columns})
    df = df.filter(~pl.all_horizontal(pl.all().is_null()))  # blank lines
    df = df.select(pl.all().str.strip_chars().replace("", None))
    target = OPTIONS.get("target") or df.columns[-1]
    roles = dict(part.strip().rsplit("=", 1) for part in
                 OPTIONS.get("roles", "").replace(";", ",").split(",") if "=" in part)
    roles = {k.strip(): v.strip() for k, v in roles.items()}
    rule = OPTIONS.get("missing", "refuse")
    feats = [c for c in df.columns if c != target and roles.get(c) != "ignore"]
    numeric = {c: df[c].cast(pl.Float64, strict=False).cast(pl.Float32).to_numpy()
               for c in feats if roles.get(c, "feature") == "feature"}
    cells = {c: ~np.isfinite(v) for c, v in numeric.items()}  # missing or not a number
    cells.update({c: df[c].is_null().to_numpy() for c in feats if c not in numeric})
    bad = np.logical_or.reduce(list(cells.values()) + [np.zeros(len(df), bool)])
    no_target = df[target].is_null().to_numpy()
    y_num = df[target].cast(pl.Float64, strict=False).to_numpy()
    not_number = ~np.isfinite(y_num) if CLASSES is None else np.zeros(len(df), bool)
    cells[target] = no_target | not_number
    for c in numeric:  # as netbuilder: a column of mostly text is not a number column
        odd = cells[c] & df[c].is_not_null().to_numpy()
        if rule != "refuse" and odd.sum() > 0.5 * max(1, (~cells[c] | odd).sum()):
            raise SystemExit(f"{path}, column {c!r}: most values are not numbers; give it "
                             f"a role in OPTIONS['roles'] (onehot, index or ignore)")
    if rule == "refuse" and any(m.any() for m in cells.values()):
        row, column = min((int(np.argmax(m)), c) for c, m in cells.items() if m.any())
        raise SystemExit(f"{path}: data row {row + 1}, column {column!r}: a missing or "
                         f"non-numeric cell; set OPTIONS['missing'] to 'drop' or 'fill'")
    keep = ~(no_target | (bad if rule == "drop" else False))
    columns = []
    for c in feats:
        if c in numeric:  # fill: the mean of the column's numbers in the rows kept
            v = numeric[c][keep]
            gaps = ~np.isfinite(v)
            if gaps.any():
                v = v.copy()
                v[gaps] = np.float32(v[~gaps].sum(dtype=np.float64) / max(1, (~gaps).sum()))
            columns.append(v[:, None])
            continue
        values = df[c].fill_null(MISSING_CATEGORY).to_numpy()[keep].astype(str)
        cats = {v: i for i, v in enumerate(_order(set(values.tolist())))}
        codes = np.array([cats[v] for v in values], np.int64)
        columns.append(np.eye(len(cats), dtype=np.float32)[codes] if roles[c] == "onehot"
                       else codes.astype(np.float32)[:, None])
    X = np.concatenate(columns, axis=1).astype(np.float32)
    if CLASSES is None:  # rows whose target is not a number go after the fill means
        good = ~not_number[keep]
        return X[good], y_num[keep][good].astype(np.float32)[:, None], False
    index = {name: i for i, name in enumerate(CLASSES)}
    y_text = df[target].to_numpy()[keep].astype(str)
    unknown = sorted(set(y_text.tolist()) - set(index))
    if unknown:
        raise SystemExit(f"{path}: target values {unknown[:5]} are not among the classes "
                         f"netbuilder saw at export ({CLASSES}); edit CLASSES")
    return X, np.array([index[v] for v in y_text], dtype=np.int64), True


def make_datasets():
    """(train, validation, test, classification) as netbuilder prepares a CSV: features
    standardized with the training split's mean and standard deviation."""
    X, y, classification = load_data()
    parts = split_indices(y, classification)
    if NORMALIZE:
        mean, std = train_statistics(X[parts[0]], 1)
        X = (torch.from_numpy(X) - torch.from_numpy(mean)) / torch.from_numpy(std)
    X = torch.as_tensor(X).reshape(len(X), *INPUT_SHAPE)
    targets = as_targets(y, classification, len(CLASSES or ()))
    return (*(TensorDataset(X[p], targets[p]) for p in parts), classification)
'''


def user_data_source(project, class_targets: bool) -> tuple[str, list[str], list[str]] | None:
    """(data source, packages, notes) for image_folder and csv; None for others. The
    source defines load_data() and make_datasets()."""
    from string import Template

    ds = project.dataset
    if ds is None or ds.name not in ("image_folder", "csv"):
        return None
    split = Template(SPLIT).substitute(class_targets=class_targets)
    if ds.name == "image_folder":
        return split + IMAGE_FOLDER, ["Pillow", "scikit-learn"], []
    from ..data import DataError
    from ..training.compat import dataset_info

    notes = []
    try:
        info = dataset_info(ds, load=True)
        classes = list(info.class_names) if info.is_classification else None
    except DataError as e:
        classes = None
        notes.append(f"train.py takes the CSV target as regression values: the CSV could "
                     f"not be read at export ({e}); set CLASSES in train.py for classes")
    return (split + Template(CSV).substitute(classes=repr(classes)),
            ["polars", "scikit-learn"], notes)
