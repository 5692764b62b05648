import copy
import math

import pytest
import torch
import torch.nn.functional as F

from mmcrossformer.models import CrossViT, CrossViTPyramid
from mmcrossformer.models.necks.crossvit_pyramid import avg_pool2x

SMALL = dict(
    embed_dims=(16, 32), depths=(1, 1), num_heads=(2, 4), mlp_ratios=(2, 2),
    num_encoders=1)


def dense_backbone(arch=SMALL, **kwargs):
    model = CrossViT(arch=copy.deepcopy(arch), out_type='featmap',
                     dense_strides=(8, 16), dense_pos_size=128, **kwargs)
    model.init_weights()
    return model.eval()


@pytest.mark.parametrize('size', [(224, 320), (96, 128), (50, 77)])
def test_level_grids(size):
    """Strides 4 ... 128 from the stride-8 and stride-16 maps: exact for
    sizes that are multiples of the stride, the documented grids
    otherwise."""
    neck = CrossViTPyramid(
        (16, 32), out_channels=8, out_strides=(4, 8, 16, 32, 64, 128)).eval()
    with torch.no_grad():
        outs = neck(dense_backbone()(torch.rand(1, 3, *size)))
    h8, w8 = math.ceil(size[0] / 8), math.ceil(size[1] / 8)
    grids = [(2 * h8, 2 * w8), (h8, w8)]
    h, w = math.ceil(size[0] / 16), math.ceil(size[1] / 16)
    for _ in range(5):
        grids.append((h, w))
        h, w = math.ceil(h / 2), math.ceil(w / 2)
    assert [tuple(o.shape[2:]) for o in outs] == grids[:6]
    if size == (224, 320):  # multiples of 32: exactly H / stride
        assert [tuple(o.shape[2:]) for o in outs[:4]] == [
            (224 // t, 320 // t) for t in (4, 8, 16, 32)]


def test_avg_pool2x_is_the_mean_of_covered_cells():
    x = torch.arange(15.).reshape(1, 1, 3, 5)
    y = avg_pool2x(x)
    assert y.shape == (1, 1, 2, 3)
    assert y[0, 0, 0, 0] == (0 + 1 + 5 + 6) / 4
    # the missing row / column count as zeros, as padding does in a batch
    assert y[0, 0, 1, 2] == 14 / 4
    assert y[0, 0, 0, 2] == (4 + 9) / 4


def test_exchange_by_geometry():
    """S' = S + nearest x2 of P_ls(L) (a stride-8 cell takes the stride-16
    cell it lies in), L' = L + P_sl(2x2 mean of S)."""
    torch.manual_seed(0)
    neck = CrossViTPyramid((4, 6), out_channels=8)
    small, large = torch.randn(2, 4, 5, 7), torch.randn(2, 6, 3, 4)
    s2, l2 = neck.exchange(small, large)
    proj = neck.large_to_small(large)
    for i, j in [(0, 0), (4, 6), (3, 2)]:
        torch.testing.assert_close(s2[:, :, i, j],
                                   small[:, :, i, j] + proj[:, :, i // 2,
                                                            j // 2])
    padded = F.pad(small, (0, 1, 0, 1))
    pooled = F.avg_pool2d(padded, 2)
    torch.testing.assert_close(l2, large + neck.small_to_large(pooled))


def test_arguments_and_input_checks():
    with pytest.raises(ValueError, match='in_strides'):
        CrossViTPyramid((16, 32), in_strides=(8, 12))
    with pytest.raises(ValueError, match='out_strides'):
        CrossViTPyramid((16, 32), out_strides=(2, 8))
    with pytest.raises(ValueError, match='out_strides'):
        CrossViTPyramid((16, 32), out_strides=(16, 8))
    with pytest.raises(ValueError, match='out_channels'):
        CrossViTPyramid((16, 32), out_channels=[8, 8])
    with pytest.raises(ValueError, match='in_channels'):
        CrossViTPyramid((16, 32, 64))
    neck = CrossViTPyramid((16, 32), out_channels=8)
    with pytest.raises(ValueError, match=r'\(1, 8, 4, 4\)'):
        neck([(torch.rand(1, 8, 4, 4), torch.rand(1, 32, 2, 2))])
    with pytest.raises(ValueError, match='2 branch maps'):
        neck([(torch.rand(1, 16, 4, 4), )])
    # the old classification grids (stride ~11.2 and 16) are refused
    with pytest.raises(ValueError, match='dense_strides'):
        neck([(torch.rand(1, 16, 20, 20), torch.rand(1, 32, 14, 14))])


def test_no_stride_4_level_builds_no_upsampling():
    """RetinaNet reads strides 8-128: nothing is built that it does not use,
    and every parameter gets a gradient."""
    neck = CrossViTPyramid((16, 32), out_channels=8,
                           out_strides=(8, 16, 32, 64, 128))
    assert neck.upsample is None and len(neck.levels) == 5
    backbone = dense_backbone().train()
    outs = neck(backbone(torch.rand(2, 3, 64, 96)))
    # a random projection: the mean of a LayerNorm output with unit
    # weights has no gradient
    torch.manual_seed(0)
    sum((o * torch.randn_like(o)).sum() for o in outs).backward()
    unused = [n for n, p in [*neck.named_parameters(),
                             *backbone.named_parameters()]
              if p.grad is None or not p.grad.abs().sum() > 0]
    assert not unused, unused


def zero_residuals(backbone):
    """Make every transformer layer of ``backbone`` the identity (zero
    output projections of attention and FFN): its maps are then the patch
    embeddings plus position codes, with no global mixing."""
    from mmcrossformer.models.layers import TransformerLayer
    for layer in backbone.modules():
        if isinstance(layer, TransformerLayer):
            last = [m for m in layer.ffn.modules()
                    if isinstance(m, torch.nn.Linear)][-1]
            for lin in (layer.attn.proj, last):
                torch.nn.init.zeros_(lin.weight)
                torch.nn.init.zeros_(lin.bias)


def alignment_errors(backbone, levels, strides, size, box):
    """Distance in input pixels, per level, between the centre of ``box``
    (y0, x0, y1, x1), a bright patch on a zero image, and the centroid of
    the level's response (channel-summed |difference|, cell (i, j) at
    ((i + 0.5) * stride, (j + 0.5) * stride)); ``levels`` maps the backbone
    output to the levels."""
    base = torch.zeros(1, 3, *size)
    pattern = base.clone()
    y0, x0, y1, x1 = box
    pattern[:, :, y0:y1, x0:x1] = 3.
    with torch.no_grad():
        f0 = levels(backbone(base))
        f1 = levels(backbone(pattern))
    cy, cx = (y0 + y1) / 2, (x0 + x1) / 2
    errors = []
    for a, b, stride in zip(f0, f1, strides):
        r = (b - a).abs().sum(1)[0]
        ys = (torch.arange(r.shape[0]) + .5) * stride
        xs = (torch.arange(r.shape[1]) + .5) * stride
        total = r.sum()
        ey = (r.sum(1) * ys).sum() / total
        ex = (r.sum(0) * xs).sum() / total
        errors.append(max(abs(ey - cy).item(), abs(ex - cx).item()))
    return errors


@pytest.mark.parametrize('box', [(0, 0, 16, 16), (80, 112, 96, 128),
                                 (144, 208, 160, 224)],
                         ids=['top-left', 'middle', 'bottom-right'])
def test_pattern_appears_at_its_place_in_every_level(box):
    """A 16 x 16 bright patch (on the stride-16 grid) lands, in input
    pixels, within half a stride of its centre in the input map of each
    level (strides 4 ... 64, after the branch exchange), also in the
    bottom-right corner; at strides 4, 8 and 16 within 1 pixel. The
    backbone's layers are made identities to isolate the geometry of
    embedding and resampling from global attention (which mixes all
    tokens). A small branch at another scale than 1.5x, resampling by size
    or a shifted upsampling would move it (e.g. 240 / 224 instead of 1.5x:
    ~15 pixels at the bottom-right)."""
    torch.manual_seed(0)
    # no final LayerNorm: it would scale the faint response of a cell next
    # to the patch (bicubic ringing) up to that of the patch itself
    backbone = dense_backbone(final_norm=False)
    zero_residuals(backbone)
    strides = (4, 8, 16, 32, 64)
    neck = CrossViTPyramid((16, 32), out_channels=32,
                           out_strides=strides).eval()
    neck.upsample[1] = torch.nn.Identity()  # the same LayerNorm effect
    errors = alignment_errors(backbone, neck.level_inputs, strides,
                              (160, 224), box)
    for err, stride in zip(errors, strides):
        assert err <= stride / 2, (errors, strides)
    assert max(errors[:3]) <= 1, errors


def test_feeds_mmdet_heads_directly():
    """RetinaNet's head takes the five levels (P3-P7) as they are."""
    from mmdet.registry import MODELS
    from mmengine.registry import init_default_scope
    init_default_scope('mmdet')
    neck = MODELS.build(
        dict(type='mmcrossformer.CrossViTPyramid', in_channels=(16, 32),
             out_channels=16, out_strides=(8, 16, 32, 64, 128)))
    outs = neck(dense_backbone()(torch.rand(1, 3, 64, 96)))
    assert [tuple(o.shape[2:]) for o in outs] == [(8, 12), (4, 6), (2, 3),
                                                  (1, 2), (1, 1)]
