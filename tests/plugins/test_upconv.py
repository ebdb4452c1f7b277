"""The ``upconv`` texture decoder: how its pixel-shuffle output sizes the network.

The contract suite (tests/plugins/test_contracts.py) checks the default decoder's shape, start at
zero, training and batch independence; these tests check what ``shuffle`` changes.
"""
from __future__ import annotations

import pytest
import torch

from facerecon.api import build


def _convolutions(network: torch.nn.Module) -> list[torch.nn.Conv2d]:
    return [m for m in network.modules() if isinstance(m, torch.nn.Conv2d)]


@pytest.mark.parametrize("shuffle, blocks", [(1, 5), (2, 4), (4, 3), (8, 2)])
def test_shuffle_replaces_the_largest_blocks(shuffle, blocks):
    decoder = build("texture_decoder", "upconv", channels=32, min_channels=8, shuffle=shuffle)
    torch.manual_seed(0)
    network = decoder.network(16, 128, 7)
    convs = _convolutions(network)
    assert len(convs) == blocks + 1  # one convolution per block, and the head
    assert convs[-1].out_channels == shuffle ** 2 * 7
    latent = torch.randn(3, 16)
    with torch.no_grad():
        maps = network(latent)
    assert maps.shape == (3, 128, 128, 7) and maps.dtype == torch.float32
    assert maps.abs().max() == 0  # zero-initialised head: the statistical maps are unchanged

    # Each feature of the head's grid fills one shuffle×shuffle block of texels, channel by channel.
    torch.nn.init.normal_(network.head.weight, std=0.1)
    with torch.no_grad():
        features = network.blocks(torch.nn.functional.silu(network.project(latent).view(3, network.width, 4, 4)))
        head = network.head(features)
        maps = network(latent)
    side = features.shape[-1]
    assert side * shuffle == 128
    block = maps[1, 2 * shuffle:3 * shuffle, 5 * shuffle:6 * shuffle, 4]  # texels of feature (row 2, column 5)
    expected = head[1, 4 * shuffle ** 2:5 * shuffle ** 2, 2, 5].reshape(shuffle, shuffle)
    torch.testing.assert_close(block, expected)


def test_sizes_that_are_not_a_power_of_two_times_the_grid_are_resized():
    decoder = build("texture_decoder", "upconv", channels=16, min_channels=8, shuffle=4)
    with torch.no_grad():
        maps = decoder.network(8, 48, 3)(torch.randn(2, 8))
    assert maps.shape == (2, 48, 48, 3)


@pytest.mark.parametrize("shuffle", [3, 6])
def test_a_shuffle_that_is_not_a_power_of_two_is_refused(shuffle):
    from facerecon.recipe import RecipeError

    with pytest.raises(RecipeError) as info:
        build("texture_decoder", "upconv", shuffle=shuffle)
    assert f"shuffle: must be a power of 2 (1, 2, 4, 8...), got {shuffle}" in str(info.value)


def test_project_rank_factors_the_latent_map():
    decoder = build("texture_decoder", "upconv", channels=32, min_channels=8, project_rank=8)
    network = decoder.network(64, 64, 7)
    reduce, expand = network.project
    assert (reduce.in_features, reduce.out_features, reduce.bias) == (64, 8, None)
    assert (expand.in_features, expand.out_features) == (8, 32 * 4 * 4)
    torch.nn.init.normal_(network.head.weight, std=0.1)
    with torch.no_grad():
        maps = network(torch.randn(2, 64))
    assert maps.shape == (2, 64, 64, 7) and maps.abs().max() > 0
    # A rank no smaller than the latent or the grid would only add weights: one full matrix then.
    full = build("texture_decoder", "upconv", channels=32, min_channels=8, project_rank=0).network(64, 64, 7)
    assert isinstance(full.project, torch.nn.Linear) and full.project.weight.shape == (32 * 16, 64)
    assert isinstance(build("texture_decoder", "upconv", project_rank=64).network(64, 64, 7).project, torch.nn.Linear)


@pytest.mark.parametrize("kernel, reach", [(1, 0), (3, 1)])
def test_head_kernel_sets_how_far_a_grid_cell_reaches(kernel, reach):
    """With a 1×1 head a cell of the last grid changes only its own shuffle×shuffle block of texels;
    with 3×3 also its neighbours' blocks."""
    decoder = build("texture_decoder", "upconv", channels=16, min_channels=8, head_kernel=kernel)
    network = decoder.network(8, 64, 3)
    assert network.head.kernel_size == (kernel, kernel)
    torch.nn.init.normal_(network.head.weight, std=0.1)
    features = torch.randn(1, network.head.in_channels, 16, 16)
    changed = features.clone()
    changed[0, :, 7, 9] += 1.0
    with torch.no_grad():
        difference = (network.head(changed) - network.head(features)).abs().sum(1)[0]
    rows, columns = torch.nonzero(difference > 1e-6, as_tuple=True)
    assert (rows.min(), rows.max(), columns.min(), columns.max()) == (7 - reach, 7 + reach, 9 - reach, 9 + reach)
