"""train.py's load_data() for the user's own data (image folder, CSV), without netbuilder.

The rules are netbuilder's (data/imagefolder.py, data/csvfile.py), written out plainly:
class ids in folder-name order, unreadable images skipped and counted, CSV column roles
(ignore, onehot, index) and the missing-cell rule (refuse, drop, fill), standardized
features. A CSV's class names are taken from netbuilder at export, so train.py numbers the
classes exactly as netbuilder's training did.
"""
from __future__ import annotations

IMAGE_FOLDER = '''
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}


def load_data():
    """Images from OPTIONS["path"] (one sub-folder per class, classes in name order),
    resized to size×size, scaled to [0, 1] and standardized per channel. Unreadable, empty
    and oversized files are skipped and counted. Everything is decoded into memory: for a
    folder larger than memory, replace this with a torch Dataset that decodes per item."""
    from PIL import Image

    root = Path(os.path.expanduser(OPTIONS["path"]))
    size = OPTIONS.get("size", 32)
    mode = "L" if OPTIONS.get("grayscale", False) else "RGB"
    classes = sorted(d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    xs, ys, skipped = [], [], []
    for label, name in enumerate(classes):
        files = sorted(f for f in (root / name).rglob("*") if f.suffix.lower() in IMAGE_SUFFIXES
                       and not any(part.startswith(".") for part in f.relative_to(root).parts))
        for f in files:
            try:
                with Image.open(f) as im:
                    a = np.asarray(im.convert(mode).resize((size, size), Image.BILINEAR),
                                   np.uint8)
            except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
                skipped.append(str(f.relative_to(root)))
                continue
            xs.append(a[None] if a.ndim == 2 else a.transpose(2, 0, 1))
            ys.append(label)
    if skipped:
        print(f"skipped {len(skipped)} unusable image file(s): {', '.join(skipped[:5])}",
              file=sys.stderr)
    if not xs:
        raise SystemExit(f"{root}: no usable images in {len(classes)} class folders")
    X = np.stack(xs).astype(np.float32) / 255.0
    if OPTIONS.get("normalize", True):
        X = (X - X.mean((0, 2, 3), keepdims=True)) / (X.std((0, 2, 3), keepdims=True) + 1e-8)
    return X, np.array(ys, dtype=np.int64), True
'''

CSV = '''
CLASSES = $classes  # class names in netbuilder's order (None: a regression target)


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
    OPTIONS["missing"] (refuse, drop the row, fill with the column mean), features
    standardized."""
    import polars as pl

    path = os.path.expanduser(OPTIONS["path"])
    df = pl.read_csv(path, infer_schema=False)
    df = df.rename({c: c.strip() for c in df.columns})
    df = df.select(pl.all().str.strip_chars().replace("", None))
    df = df.filter(~pl.all_horizontal(pl.all().is_null()))  # blank lines
    target = OPTIONS.get("target") or df.columns[-1]
    roles = dict(part.strip().rsplit("=", 1) for part in
                 OPTIONS.get("roles", "").replace(";", ",").split(",") if "=" in part)
    roles = {k.strip(): v.strip() for k, v in roles.items()}
    rule = OPTIONS.get("missing", "refuse")
    feats = [c for c in df.columns if c != target and roles.get(c) != "ignore"]
    numeric = {c: df[c].cast(pl.Float64, strict=False).to_numpy() for c in feats
               if roles.get(c) not in ("onehot", "index")}
    bad = np.zeros(len(df), bool)
    for c, v in numeric.items():
        bad |= ~np.isfinite(v)
    for c in feats:
        if c not in numeric:
            bad |= df[c].is_null().to_numpy()
    no_target = df[target].is_null().to_numpy()
    if CLASSES is None:
        no_target |= ~np.isfinite(df[target].cast(pl.Float64, strict=False).to_numpy())
    if rule == "refuse" and (bad | no_target).any():
        row = int(np.argmax(bad | no_target))
        raise SystemExit(f"{path}: row {row + 1} has a missing or non-numeric cell; set "
                         f"OPTIONS['missing'] to 'drop' or 'fill'")
    keep = ~(no_target | (bad if rule == "drop" else False))
    columns = []
    for c in feats:
        if c in numeric:
            v = numeric[c][keep]
            gaps = ~np.isfinite(v)
            if gaps.any():
                v = np.where(gaps, np.nanmean(np.where(gaps, np.nan, v)), v)
            columns.append(v[:, None])
            continue
        values = df[c].fill_null("(missing)").to_numpy()[keep].astype(str)
        cats = {v: i for i, v in enumerate(_order(set(values.tolist())))}
        codes = np.array([cats[v] for v in values])
        columns.append(np.eye(len(cats))[codes] if roles[c] == "onehot" else codes[:, None])
    X = np.concatenate(columns, axis=1).astype(np.float32)
    if OPTIONS.get("normalize", True):
        X = (X - X.mean(0)) / np.where(X.std(0) < 1e-8, 1.0, X.std(0))
    y_text = df[target].to_numpy()[keep].astype(str)
    if CLASSES is None:
        return X, y_text.astype(np.float32)[:, None], False
    index = {name: i for i, name in enumerate(CLASSES)}
    return X, np.array([index[v] for v in y_text], dtype=np.int64), True
'''


def user_data_source(project) -> tuple[str, list[str], list[str]] | None:
    """(load_data source, packages, notes) for image_folder and csv; None for others."""
    ds = project.dataset
    if ds is None or ds.name not in ("image_folder", "csv"):
        return None
    if ds.name == "image_folder":
        return IMAGE_FOLDER, ["Pillow"], []
    from string import Template

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
    return Template(CSV).substitute(classes=repr(classes)), ["polars"], notes
