"""Training windows: the orientation mix of ``window_orientations`` (config) reaches the sampler."""

from __future__ import annotations

import numpy as np
import pytest

from medinpaint.config import TrainConfig
from medinpaint.data.sample import heldout_slab
from medinpaint.errors import MedinpaintError
from medinpaint.training.windows import sample_windows


@pytest.fixture(scope="module")
def sagittal_constant() -> np.ndarray:
    """A (181, 217, 181) volume that varies only along x: every sagittal slice is constant."""
    x = np.linspace(20.0, 200.0, 181, dtype=np.float32)
    return np.ascontiguousarray(np.broadcast_to(x[:, None, None], (181, 217, 181)))


def test_orientations_choose_the_slicing_axes(sagittal_constant):
    def spreads(orientations, count=24):
        windows = sample_windows(sagittal_constant, heldout_slab(), (0.0, 220.0), count=count, seed=0,
                                 augment=False, orientations=orientations)  # fmt: skip
        return windows.flatten(1).std(dim=1)

    assert bool((spreads((0, 0, 1)) == 0).all())  # sagittal only: constant windows
    assert bool((spreads((1, 0, 0)) > 0).all())  # axial only: every window varies along x
    default = spreads(TrainConfig().window_orientations, count=400)  # windows come a few per slice
    assert bool((default == 0).any()) and bool((default > 0).any())


@pytest.mark.parametrize("bad", [(1, 0), (-1, 1, 1), (0, 0, 0)])
def test_bad_orientation_weights_are_refused(bad):
    with pytest.raises(MedinpaintError, match="window_orientations"):
        TrainConfig.from_dict({"window_orientations": list(bad)})
