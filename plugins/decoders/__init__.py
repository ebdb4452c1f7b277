"""Built-in texture decoders (registration only: light, no torch import)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from facerecon import ParamError, hookimpl, param


@dataclass(frozen=True)
class UpconvParams:
    """Parameters of the ``upconv`` decoder: a (low-rank) linear map to a small feature grid, then
    (upsample ×2, 3×3 convolution, normalisation, activation) blocks up to 1/``shuffle`` of the map
    size, and a convolution whose outputs are rearranged into the last ``shuffle``× enlargement
    (pixel shuffle)."""

    start_size: int = param(4, "Side of the feature grid the latent is mapped to.", ge=1)
    channels: int = param(256, "Feature channels of the first grid; halved after each upsampling.", ge=1)
    min_channels: int = param(16, "Fewest feature channels of a block.", ge=1)
    norm: Literal["group", "batch", "none"] = param(
        "group", "Normalisation after each convolution: group (8 groups; independent of the batch and of "
        "the number of processes), batch, or none.")
    upsample: Literal["nearest", "bilinear"] = param("bilinear", "How each block doubles the grid.")
    shuffle: int = param(
        4, "Enlargement done by the output's pixel shuffle (a power of 2): each feature of the last grid "
        "gives a shuffle×shuffle block of texels, so the largest grids, the costliest, get no convolution "
        "of their own (with 4, 256² maps take about two thirds of the time they take with 2, for the same "
        "capacity: benchmarks/bench_decoder.py).", ge=1)
    project_rank: int = param(
        256, "Rank of the linear map from the latent to the first grid: the latent is first reduced to this "
        "many features (0: one full matrix). With the paper's 1000-d latent, 256 reads 5 MB of weights "
        "instead of 16 MB per face, which at batch 1 is most of that layer's time, for almost the same "
        "capacity (benchmarks/bench_decoder.py).", ge=0)
    head_kernel: Literal[1, 3] = param(
        1, "Kernel side of the output convolution: 1 makes each shuffle×shuffle block of texels a linear "
        "function of its grid cell's features (the blocks before it give the spatial context); 3 also "
        "mixes the neighbouring cells, at 9× the cost of the largest convolution. In "
        "benchmarks/bench_decoder.py 1 learns as well and trains faster; its maps show the blocks a "
        "little more.")

    def __post_init__(self) -> None:
        if self.shuffle & (self.shuffle - 1):
            raise ParamError("shuffle", f"must be a power of 2 (1, 2, 4, 8...), got {self.shuffle}")


@hookimpl
def facerecon_register_components(registry):
    """Register the built-in texture decoders."""
    registry.register(
        "texture_decoder", "upconv", params=UpconvParams, factory="plugins.decoders.upconv:UpconvDecoder",
        summary="low-rank linear map to a 4×4 grid, upsampling convolution blocks, pixel-shuffle output; starts at 0",
    )
