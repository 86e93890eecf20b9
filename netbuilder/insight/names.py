"""What the insight views offer, without importing torch (the editor starts before torch is
loaded, and its Insight tab lists these at once)."""
from __future__ import annotations


class InsightError(ValueError):
    """A sample, target or setting the insight views cannot use; meant for a person."""


def parse_numbers(text: str, what: str) -> list[float]:
    """Typed values ("0.5, -1, 2"; semicolons too) for the input or the target."""
    try:
        values = [float(v) for v in text.replace(";", ",").split(",") if v.strip()]
    except ValueError:
        raise InsightError(f"{what} {text!r}: give numbers separated by commas") from None
    if not values:
        raise InsightError(f"{what} is empty: give numbers separated by commas")
    return values


ATTRIBUTION_METHODS = {"saliency": "Saliency (input gradient)",
                       "integrated_gradients": "Integrated Gradients", "gradcam": "Grad-CAM",
                       "occlusion": "Occlusion"}
PROJECTION_METHODS = {"pca": "PCA", "tsne": "t-SNE"}
