"""The oneDNN fully-connected path equals ``F.linear`` in values and
gradients, is taken where it should be, and the FFN that uses it in
training equals mmcv's ``FFN.forward`` (dropouts and drop path included)."""
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn.bricks.transformer import FFN

from mmcrossformer.models.layers import ffn_forward
from mmcrossformer.models.layers.onednn_linear import (
    OneDNNLinearFunction,
    linear,
    onednn_linear_available,
    use_onednn_linear,
)

pytestmark = pytest.mark.skipif(
    not onednn_linear_available(),
    reason='PyTorch without oneDNN linear kernels (the path is off there)')


def _grads(fn, x, layer, out_grad):
    x = x.detach().clone().requires_grad_()
    for p in layer.parameters():
        p.grad = None
    out = fn(x, layer)
    out.backward(out_grad)
    return (out.detach(), x.grad, layer.weight.grad,
            None if layer.bias is None else layer.bias.grad)


# (C_in, C_out): wide and narrow layers take different weight-gradient
# products; an input with a leading batch dimension and a transposed view
@pytest.mark.parametrize('c_in,c_out', [(24, 72), (72, 24), (32, 32)])
@pytest.mark.parametrize('bias', [True, False])
@pytest.mark.parametrize('layout', ['2d', '3d', 'transposed'])
def test_values_and_gradients_equal_f_linear(c_in, c_out, bias, layout):
    torch.manual_seed(0)
    layer = nn.Linear(c_in, c_out, bias=bias)
    if layout == '2d':
        x = torch.randn(50, c_in)
    elif layout == '3d':
        x = torch.randn(3, 17, c_in)
    else:
        x = torch.randn(3, c_in, 17).transpose(1, 2)
    out_grad = torch.randn(*x.shape[:-1], c_out)
    assert use_onednn_linear(x, layer.weight)
    ours = _grads(linear, x, layer, out_grad)
    # the function itself (2-D) returns a tensor of its own
    out = OneDNNLinearFunction.apply(x.reshape(-1, c_in), layer.weight,
                                     layer.bias)
    assert out._base is None and out.shape == (x[..., 0].numel(), c_out)
    ref = _grads(lambda t, m: F.linear(t, m.weight, m.bias), x, layer,
                 out_grad)
    for got, want in zip(ours, ref):
        if want is None:
            assert got is None
            continue
        assert got.shape == want.shape
        torch.testing.assert_close(got, want, atol=1e-4, rtol=1e-4)


def test_falls_back_to_the_module_elsewhere():
    torch.manual_seed(0)
    layer = nn.Linear(8, 12)
    x = torch.randn(4, 8)
    assert not use_onednn_linear(x.double(), layer.weight.double())
    with torch.autocast('cpu', dtype=torch.bfloat16):
        assert not use_onednn_linear(x, layer.weight)
    # float64 runs the module itself: bit-identical to it
    layer64 = layer.double()
    assert torch.equal(linear(x.double(), layer64), layer64(x.double()))


def test_ffn_training_path_equals_mmcv_forward():
    torch.manual_seed(0)
    ffn = FFN(
        embed_dims=16,
        feedforward_channels=48,
        num_fcs=2,
        ffn_drop=0.2,
        dropout_layer=dict(type='DropPath', drop_prob=0.5),
        add_identity=True).train()
    for p in ffn.parameters():
        nn.init.normal_(p, std=0.2)
    x = torch.randn(4, 6, 16)
    identity = torch.randn(4, 6, 16)
    grads = []
    for fn in (lambda t: ffn(t, identity=identity),
               lambda t: ffn_forward(ffn, t, identity=identity)):
        t = x.clone().requires_grad_()
        torch.manual_seed(1)  # the same dropout and drop-path draws
        out = fn(t)
        out.backward(torch.ones_like(out))
        grads.append((out.detach(), t.grad,
                      ffn.layers[0][0].weight.grad.clone()))
        ffn.zero_grad()
    # dropout and drop path did act (some rows dropped), on both paths alike
    assert (grads[0][0] == identity).all(-1).any()
    for got, want in zip(grads[1], grads[0]):
        torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
