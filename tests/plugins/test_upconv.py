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
