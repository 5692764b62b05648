"""CrossViT's windowed dense option (``dense_window_size``,
``dense_global_layers``): the global mode as the limit of one window, the
windows in use, features independent of batch padding, the parameters and
gradients of the global mode, which layers are windowed, the argument
checks and one graph under torch.compile."""
import copy
import math

import pytest
import torch

from mmcrossformer.models import CrossViT
from mmcrossformer.testing import TINY_CROSSVIT as ARCH
from mmcrossformer.testing import TINY_CROSSVIT_DAGGER as DAGGER
from mmcrossformer.testing import tiny_dense_crossvit as dense

# ARCH: two encoders; branch 0 has 2 layers over them, branch 1 has 4


def windowed(arch=ARCH, window=(3, 2), global_layers=((), (1, )), **kwargs):
    """The global model ``dense(arch, **kwargs)`` (seed 0) and the windowed
    one with its weights."""
    torch.manual_seed(0)
    ref = dense(arch, **kwargs)
    model = dense(arch, dense_window_size=window,
                  dense_global_layers=global_layers, **kwargs)
    model.load_state_dict(ref.state_dict(), strict=True)
    return ref, model


def test_one_window_over_the_grid_is_the_global_mode():
    """Windows at least as large as the grid (8 x 10 small, 4 x 5 large
    tokens; padded images in the batch): every patch query sees the CLS
    token and all valid tokens, as in global attention, so the outputs of
    all encoders are the global model's."""
    glob, win = windowed(window=(10, 5), global_layers=None,
                         out_indices=(0, 1))
    torch.manual_seed(1)
    x = torch.randn(2, 3, 64, 80)
    sizes = [(64, 80), (40, 50)]
    with torch.no_grad():
        outs = glob(x, valid_sizes=sizes), win(x, valid_sizes=sizes)
        assert len(outs[0]) == len(outs[1]) == 2
        for a_out, b_out in zip(*outs):
            for a, b in zip(a_out, b_out):
                torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


def test_smaller_windows_change_the_features():
    """Windows smaller than the grid are in use: both branches differ from
    the global model; with every layer global they do not."""
    glob, win = windowed()
    _, all_global = windowed(global_layers=((0, 1), (0, 1, 2, 3)))
    x = torch.randn(1, 3, 64, 80)
    with torch.no_grad():
        ref = glob(x)[-1]
        for a, b, c in zip(ref, win(x)[-1], all_global(x)[-1]):
            assert (a - b).abs().max() > 1e-3
            torch.testing.assert_close(a, c)


@pytest.mark.parametrize('arch', [ARCH, DAGGER], ids=['linear', 'dagger'])
@pytest.mark.parametrize('window', [(3, 2), (4, 3)])
def test_padding_does_not_change_the_image_features(arch, window):
    """As the global mode's test (test_crossvit_dense.py): image A alone
    and A at the top-left of a larger zero-padded canvas (batch of two
    sizes) give the same maps over A's tokens when the valid sizes are
    given; without them the padding leaks in. Windows (3, 2) tile A's
    grids (5 x 7, 3 x 4 tokens) unevenly, so windows straddle A's border
    and hold padded tokens."""
    _, model = windowed(arch, window=window)
    torch.manual_seed(0)
    a = torch.randn(1, 3, 40, 56)
    canvas = torch.zeros(2, 3, 72, 104)
    canvas[0, :, :40, :56] = a[0]
    canvas[1] = torch.randn(3, 72, 104)
    with torch.no_grad():
        alone = model(a)[-1]
        batched = model(canvas, valid_sizes=[(40, 56), (72, 104)])[-1]
        leaky = model(canvas)[-1]
        # B alone is B in the batch too
        b_alone = model(canvas[1:])[-1]
    for b, s in enumerate((8, 16)):
        h, w = math.ceil(40 / s), math.ceil(56 / s)
        diff = (alone[b] - batched[b][:1, :, :h, :w]).abs().max()
        assert diff <= 1e-4, (b, diff)
        assert (b_alone[b] - batched[b][1:]).abs().max() <= 1e-4
        assert batched[b][0, :, h:].abs().max() == 0
        assert batched[b][0, :, :, w:].abs().max() == 0
        assert (alone[b] - leaky[b][:1, :, :h, :w]).abs().max() > 1e-3


def test_same_parameters_and_every_one_gets_a_gradient():
    """No new parameter: the state-dict keys and shapes are the global
    mode's (15† too), and in a training step with padding every parameter
    gets a non-zero gradient, the CLS tokens and the fusions included."""
    glob = CrossViT(arch='15-dagger', out_type='featmap',
                    dense_strides=(8, 16))
    win = CrossViT(arch='15-dagger', out_type='featmap',
                   dense_strides=(8, 16), dense_window_size=(28, 14),
                   dense_global_layers=((), (4, 9, 14)))
    assert {k: v.shape for k, v in glob.state_dict().items()} == {
        k: v.shape for k, v in win.state_dict().items()}
    _, model = windowed()
    model.train()
    x = torch.rand(2, 3, 40, 56)
    sum(m.sum() for m in model(x, valid_sizes=[(40, 56), (24, 30)])[-1]
        ).backward()
    unused = [n for n, p in model.named_parameters()
              if p.grad is None or not p.grad.abs().sum() > 0]
    assert not unused, unused


def test_which_layers_are_windowed():
    """Layer indices count over all encoders per branch; negative ones
    from the end; one window size may serve every branch."""
    model = dense(dense_window_size=4, dense_global_layers=((-1, ), (0, 3)))
    assert model.dense_window_sizes == (4, 4)
    assert [e.window_layers for e in model.encoders] == [
        ((True, ), (False, True)), ((False, ), (True, False))]
    assert model.dense_global_layers == (frozenset({1}), frozenset({0, 3}))
    default = dense()
    assert default.dense_window_sizes is None
    assert [e.window_layers for e in default.encoders] == [
        ((False, ), (False, False))] * 2
    every = dense(dense_window_size=(4, 2))
    assert [e.window_layers for e in every.encoders] == [
        ((True, ), (True, True))] * 2


def test_with_cp_and_windows():
    _, model = windowed()
    x = torch.rand(2, 3, 40, 56, requires_grad=True)
    sizes = [(40, 56), (24, 30)]
    model.train()
    out = model(x, valid_sizes=sizes)[-1]
    _, cp = windowed(with_cp=True)
    cp.train()
    for a, b in zip(out, cp(x, valid_sizes=sizes)[-1]):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize('kwargs,match', [
    (dict(dense_window_size=4), 'needs dense_strides'),
    (dict(dense_global_layers=((), (1, ))), 'needs dense_window_size'),
    (dict(dense_window_size=0), r'positive int or 2 .* got 0'),
    (dict(dense_window_size=(4, 2, 2)), r'got \(4, 2, 2\)'),
    (dict(dense_window_size=(4, 2.5)), r'got \(4, 2.5\)'),
    (dict(dense_window_size='4'), "got '4'"),
    (dict(dense_window_size=4, dense_global_layers=(1, 3)),
     r'2 lists .* got \(1, 3\)'),
    (dict(dense_window_size=4, dense_global_layers=((), (4, ))),
     r'dense_global_layers\[1\]: \[4\] .* 4 layers .* \(0 \.\. 3\)'),
    (dict(dense_window_size=4, dense_global_layers=((-3, ), ())),
     r'dense_global_layers\[0\]: \[-3\]'),
    (dict(dense_window_size=4, dense_global_layers=((), (1, -3))),
     r'names a layer twice: \[1, -3\]'),
])
def test_window_arguments_are_checked(kwargs, match):
    dense_mode = 'dense_window_size' in kwargs and kwargs != dict(
        dense_window_size=4)
    with pytest.raises(ValueError, match=match):
        CrossViT(arch=copy.deepcopy(ARCH), out_type='featmap',
                 dense_strides=(8, 16) if dense_mode else None, **kwargs)


def test_no_graph_breaks_under_torch_compile():
    """torch.compile captures the windowed dense forward, padding masks
    included, in one graph."""
    import torch._dynamo as dynamo
    _, model = windowed()
    dynamo.reset()
    explained = dynamo.explain(model)(torch.randn(2, 3, 40, 56))
    assert explained.graph_break_count == 0, explained.break_reasons
    assert explained.graph_count == 1
