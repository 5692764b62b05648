import copy
import math

import pytest
import torch
import torch.nn.functional as F

from mmcrossformer.models import CrossViT, CrossViTPyramid

SMALL = dict(
    embed_dims=(16, 32), depths=(1, 1), num_heads=(2, 4), mlp_ratios=(2, 2),
    num_encoders=1)


def pyramid_shapes(h, w):
    """Documented output grids for an (h, w) input: from the stride-16
    grid (ceil(h / 16), ceil(w / 16)): x4, x2, x1, ceil(/2)."""
    gh, gw = math.ceil(h / 16), math.ceil(w / 16)
    return [(4 * gh, 4 * gw), (2 * gh, 2 * gw), (gh, gw),
            (math.ceil(gh / 2), math.ceil(gw / 2))]


@pytest.mark.parametrize('size', [(224, 224), (800, 1216), (333, 517)])
def test_shapes_on_backbone_output(size):
    backbone = CrossViT(arch=copy.deepcopy(SMALL), out_type='featmap').eval()
    backbone.init_weights()
    neck = CrossViTPyramid(in_channels=(16, 32), out_channels=24).eval()
    with torch.no_grad():
        outs = neck(backbone(torch.rand(1, 3, *size)))
    assert [tuple(o.shape[2:]) for o in outs] == pyramid_shapes(*size)
    assert all(o.shape[:2] == (1, 24) for o in outs)
    if size == (800, 1216):  # a multiple of 32: exact strides
        assert [o.shape[2] for o in outs] == [800 // s for s in (4, 8, 16,
                                                                  32)]
        assert [o.shape[3] for o in outs] == [1216 // s for s in (4, 8, 16,
                                                                   32)]


def test_real_arch_at_224():
    backbone = CrossViT(arch='15-dagger', out_type='featmap').eval()
    neck = CrossViTPyramid(in_channels=(192, 384)).eval()
    assert neck.fused_channels == 576
    with torch.no_grad():
        outs = neck(backbone(torch.rand(1, 3, 224, 224)))
    assert [tuple(o.shape) for o in outs] == [(1, 256, 56, 56),
                                              (1, 256, 28, 28),
                                              (1, 256, 14, 14),
                                              (1, 256, 7, 7)]


def test_fusion_concat_and_sum():
    torch.manual_seed(0)
    small, large = torch.rand(2, 16, 9, 13), torch.rand(2, 32, 6, 8)
    neck = CrossViTPyramid(in_channels=(16, 32), out_channels=8)
    fused = neck.fuse([small, large])
    ref = F.interpolate(small, size=(6, 8), mode='bilinear',
                        align_corners=False)
    torch.testing.assert_close(fused, torch.cat([ref, large], 1))
    # the level for scale 1 works on the fused map directly
    torch.testing.assert_close(neck([(small, large)])[2],
                               neck.levels[2](fused))
    # flat input accepted
    torch.testing.assert_close(neck([small, large])[0],
                               neck([(small, large)])[0])
    summed = CrossViTPyramid(in_channels=(16, 32), fusion='sum')
    assert summed.fused_channels == 32
    torch.testing.assert_close(
        summed.fuse([small, large]),
        summed.branch_projs[0](ref) + large)
    # reference on the small branch's grid instead
    neck0 = CrossViTPyramid(in_channels=(16, 32), ref_branch=0)
    assert neck0.fuse([small, large]).shape == (2, 48, 9, 13)


def test_levels_and_channels():
    neck = CrossViTPyramid(
        in_channels=(16, 32), out_channels=[8, 16, 24, 32],
        scale_factors=(4, 2, 1, 0.5), norm_cfg=dict(type='GN', num_groups=4))
    outs = neck([(torch.rand(1, 16, 5, 5), torch.rand(1, 32, 4, 4))])
    assert [tuple(o.shape) for o in outs] == [(1, 8, 16, 16), (1, 16, 8, 8),
                                              (1, 24, 4, 4), (1, 32, 2, 2)]
    assert len(CrossViTPyramid((16, 32), scale_factors=(1, ))([
        torch.rand(1, 16, 5, 5), torch.rand(1, 32, 4, 4)])) == 1
    with pytest.raises(ValueError, match='fusion'):
        CrossViTPyramid((16, 32), fusion='max')
    with pytest.raises(ValueError, match='scale_factors'):
        CrossViTPyramid((16, 32), scale_factors=(8, 1))
    with pytest.raises(ValueError, match='out_channels'):
        CrossViTPyramid((16, 32), out_channels=[8, 8])
    with pytest.raises(ValueError, match='channels'):
        neck([(torch.rand(1, 8, 5, 5), torch.rand(1, 32, 4, 4))])
    with pytest.raises(ValueError, match='2 branch maps'):
        neck([(torch.rand(1, 32, 4, 4), )])


def test_feeds_mmdet_fpn_and_backprops():
    from mmdet.registry import MODELS
    from mmengine.registry import init_default_scope
    init_default_scope('mmdet')
    neck = MODELS.build([
        dict(type='mmcrossformer.CrossViTPyramid', in_channels=(16, 32),
             out_channels=16),
        dict(type='FPN', in_channels=[16] * 4, out_channels=8, start_level=1,
             add_extra_convs='on_input', num_outs=5)
    ])
    backbone = CrossViT(arch=copy.deepcopy(SMALL), out_type='featmap')
    backbone.init_weights()
    outs = neck(backbone(torch.rand(1, 3, 64, 96)))
    assert [tuple(o.shape[2:]) for o in outs] == [(8, 12), (4, 6), (2, 3),
                                                  (1, 2), (1, 1)]
    sum(o.mean() for o in outs).backward()
    assert backbone.encoders[0].branches[0][0].attn.qkv.weight.grad.abs(
    ).sum() > 0
