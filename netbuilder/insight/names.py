"""What the insight views offer, without importing torch (the editor starts before torch is
loaded, and its Insight tab lists these at once)."""
from __future__ import annotations


class InsightError(ValueError):
    """A sample, target or setting the insight views cannot use; meant for a person."""


ATTRIBUTION_METHODS = {"saliency": "Saliency (input gradient)",
                       "integrated_gradients": "Integrated Gradients", "gradcam": "Grad-CAM",
                       "occlusion": "Occlusion"}
PROJECTION_METHODS = {"pca": "PCA", "tsne": "t-SNE"}
