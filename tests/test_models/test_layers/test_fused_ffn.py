import pytest
import torch
import torch.nn as nn
from mmcv.cnn.bricks.transformer import FFN

from mmcrossformer.models.layers import can_fuse, ffn_forward
from mmcrossformer.models.layers.fused_ffn import onednn_linear_available


def make_ffn(act='GELU', **act_kwargs):
    torch.manual_seed(0)
    ffn = FFN(
        embed_dims=16,
        feedforward_channels=64,
        num_fcs=2,
        act_cfg=dict(type=act, **act_kwargs),
        add_identity=True)
    for p in ffn.parameters():  # non-trivial biases
        nn.init.normal_(p, std=0.2)
    return ffn.eval()


def test_onednn_kernels_found_on_x86_64():
    # the pinned x86_64 PyTorch wheels are built with oneDNN (elsewhere the
    # fused path may be off; the module's forward is used then)
    import platform
    available = onednn_linear_available()
    assert isinstance(available, bool)
    if platform.machine() in ('x86_64', 'AMD64'):
        assert available


@pytest.mark.parametrize('approximate', ['none', 'tanh'])
@pytest.mark.parametrize('shape', [(2, 7, 16), (1, 5, 9, 16)])
def test_fused_equals_module(approximate, shape):
    ffn = make_ffn(approximate=approximate)
    x, identity = torch.randn(shape), torch.randn(shape)
    with torch.no_grad():
        assert can_fuse(ffn, x)
        fused = ffn_forward(ffn, x, identity)
        plain = ffn(x, identity=identity)
        torch.testing.assert_close(fused, plain, atol=1e-5, rtol=1e-5)
        # identity defaults to x, as in FFN
        torch.testing.assert_close(ffn_forward(ffn, x), ffn(x), atol=1e-5,
                                   rtol=1e-5)


def test_falls_back_where_it_would_change_the_function():
    ffn = make_ffn()
    x = torch.randn(2, 5, 16)
    assert not can_fuse(ffn, x)  # autograd on
    with torch.no_grad():
        assert not can_fuse(ffn, x.double())
        assert not can_fuse(make_ffn('ReLU'), x)
        with torch.autocast('cpu', dtype=torch.bfloat16):
            assert not can_fuse(ffn, x)
        ffn.train()
        assert not can_fuse(ffn, x)
    # with autograd the module's own forward runs and gradients flow
    ffn.eval()
    x.requires_grad_()
    ffn_forward(ffn, x).sum().backward()
    assert x.grad is not None and ffn.layers[1].weight.grad is not None


@pytest.mark.parametrize('backbone', ['crossformer', 'crossvit'])
def test_backbones_same_output_with_and_without_fusion(backbone):
    from mmcrossformer.models import CrossFormer, CrossViT
    torch.manual_seed(0)
    if backbone == 'crossformer':
        model = CrossFormer(
            arch=dict(embed_dims=32, depths=[1, 2, 1, 1],
                      num_heads=[1, 2, 4, 8], group_size=[4] * 4,
                      interval=[4, 2, 1, 1], use_acl=True))
        x = torch.randn(2, 3, 72, 100)
    else:
        model = CrossViT(arch='tiny', img_size=64, branch_img_sizes=(72, 64))
        x = torch.randn(2, 3, 64, 64)
    model.init_weights()
    model.eval()
    plain = model(x)  # autograd on: unfused
    with torch.no_grad():
        fused = model(x)
    for a, b in zip(plain, fused):
        a = a if isinstance(a, torch.Tensor) else a[0]
        b = b if isinstance(b, torch.Tensor) else b[0]
        torch.testing.assert_close(b, a.detach(), atol=1e-5, rtol=1e-5)
