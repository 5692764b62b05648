import math

import pytest
import torch

from mmcrossformer.models.layers import CrossViTPatchEmbed


@pytest.mark.parametrize('patch_size', [12, 16])
@pytest.mark.parametrize('multi_conv', [False, True])
def test_grid_is_ceil_of_input_over_patch(patch_size, multi_conv):
    embed = CrossViTPatchEmbed(3, 32, patch_size, multi_conv=multi_conv)
    for size in [(48, 64), (50, 37)]:
        tokens, grid = embed(torch.rand(2, 3, *size))
        expected = tuple(math.ceil(s / patch_size) for s in size)
        assert grid == expected
        assert tokens.shape == (2, expected[0] * expected[1], 32)


def test_padding_is_zeros_at_bottom_right():
    embed = CrossViTPatchEmbed(3, 8, 16).eval()
    x = torch.rand(1, 3, 20, 30)
    padded = torch.zeros(1, 3, 32, 32)
    padded[:, :, :20, :30] = x
    torch.testing.assert_close(embed(x)[0], embed(padded)[0])


def test_multi_conv_needs_patch_12_or_16():
    with pytest.raises(ValueError, match='patch sizes'):
        CrossViTPatchEmbed(3, 32, 8, multi_conv=True)
