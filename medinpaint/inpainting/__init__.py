"""The inpainting engine on the 64×64 grid: importance weights, losses, latent search, blending.

Entry point: :func:`inpaint_grid`. The maths, with the choices made at borders and the reference
implementation's bugs that this code avoids, is in ``docs/method.md``.
"""

from medinpaint.inpainting.blend import BLEND_METHODS, blend, poisson_blend, sobel_adam_blend
from medinpaint.inpainting.engine import GridInpaintResult, inpaint_grid
from medinpaint.inpainting.losses import DEFAULT_LAMBDA, context_loss, inpainting_loss, prior_loss
from medinpaint.inpainting.search import LatentSearchResult, SearchConfig, latent_search
from medinpaint.inpainting.weights import importance_weights

__all__ = [
    "BLEND_METHODS",
    "DEFAULT_LAMBDA",
    "GridInpaintResult",
    "LatentSearchResult",
    "SearchConfig",
    "blend",
    "context_loss",
    "importance_weights",
    "inpaint_grid",
    "inpainting_loss",
    "latent_search",
    "poisson_blend",
    "prior_loss",
    "sobel_adam_blend",
]
