"""MONAI transforms: the 64×64 grid, the plain maths behind it, and semantic inpainting (array + dict twin).

``SemanticInpaint`` / ``SemanticInpaintd`` are loaded on first use: they sit on
:mod:`medinpaint.native_inpainting`, which itself uses the grid maths of this package, so an
eager import here would make importing any grid module load the whole inpainting stack first.
"""

from medinpaint.transforms.array import GridRecord, IntensityToUnit, SquareResize, ToGrid

__all__ = [
    "GridRecord",
    "IntensityToUnit",
    "SquareResize",
    "ToGrid",
    "SemanticInpaint",
    "SemanticInpaintd",
]


def __getattr__(name: str):
    if name in ("SemanticInpaint", "SemanticInpaintd"):
        from medinpaint.transforms import inpaint

        return getattr(inpaint, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
