"""CEL (CrossFormer Sec. 3.1): the space-to-depth form of its wide strided
convolutions equals the convolution, in values and gradients."""
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from mmcrossformer.models.layers import CrossScaleEmbedding
from mmcrossformer.models.layers.cel import (
    _use_space_to_depth,
    conv_space_to_depth,
)


@pytest.mark.parametrize('kernel,stride,size', [(32, 4, (40, 52)),
                                                (16, 4, (36, 28)),
                                                (8, 4, (8, 12)),
                                                (4, 2, (10, 6)),
                                                (6, 3, (9, 12))])
def test_space_to_depth_equals_the_convolution(kernel, stride, size):
    torch.manual_seed(0)
    conv = nn.Conv2d(3, 5, kernel, stride, padding=(kernel - stride) // 2)
    x = torch.randn(2, 3, *size)
    torch.testing.assert_close(
        conv_space_to_depth(x, conv),
        F.conv2d(x, conv.weight, conv.bias, stride, conv.padding),
        atol=1e-5,
        rtol=1e-5)


def test_stem_values_and_gradients_equal_plain_convolutions():
    torch.manual_seed(0)
    cel = CrossScaleEmbedding(3, 64, (4, 8, 16, 32), stride=4)
    x = torch.randn(2, 45, 61, 3)  # padded to 48 x 64 inside

    def plain(t):  # the CEL definition with F.conv2d, written out
        t = F.pad(t.permute(0, 3, 1, 2), (0, 3, 0, 3))
        t = torch.cat([
            F.conv2d(t, c.weight, c.bias, 4, (c.kernel_size[0] - 4) // 2)
            for c in cel.projs
        ], 1)
        return cel.norm(t.permute(0, 2, 3, 1))

    # the 16 and 32 kernels take the space-to-depth form while training in
    # fp32 on the CPU; not under autocast, in fp64 or without gradients
    image = torch.zeros(1, 3, 8, 8)
    assert [_use_space_to_depth(c, image) for c in cel.projs] == [
        False, False, True, True]
    with torch.autocast('cpu', dtype=torch.float16):
        assert not _use_space_to_depth(cel.projs[3], image)
    assert not _use_space_to_depth(cel.projs[3], image.double())
    with torch.no_grad():
        assert not _use_space_to_depth(cel.projs[3], image)
    results = []
    for fn in (cel, plain):
        t = x.clone().requires_grad_()
        out = fn(t)
        out.backward(torch.cos(out.detach()))
        results.append([out.detach(), t.grad] +
                       [p.grad.clone() for p in cel.parameters()])
        cel.zero_grad()
    assert results[0][0].shape == (2, 12, 16, 64)
    for got, want in zip(*results):
        torch.testing.assert_close(got, want, atol=1e-4, rtol=1e-4)
