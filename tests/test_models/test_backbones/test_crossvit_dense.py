"""CrossViT in dense mode (``dense_strides``): integer strides, position
codes by token index, padded tokens masked out of attention."""
import copy
import math

import pytest
import torch
import torch.nn.functional as F

from mmcrossformer.models import CrossViT
from mmcrossformer.models.data_preprocessors import (
    attach_valid_sizes,
    get_valid_sizes,
)
from mmcrossformer.testing import TINY_CROSSVIT as LINEAR
from mmcrossformer.testing import TINY_CROSSVIT_DAGGER as DAGGER
from mmcrossformer.testing import tiny_dense_crossvit as dense


@pytest.mark.parametrize('size', [(64, 96), (50, 77), (8, 16)])
def test_integer_strides(size):
    """Grids are ceil(H / 8) and ceil(H / 16): strides 8 and 16 pixels at
    any size (not 12 * 224 / 240 as in classification)."""
    model = dense()
    h, w = size
    grids = [(math.ceil(h / s), math.ceil(w / s)) for s in (8, 16)]
    assert model.token_grids(h, w) == grids
    assert model.branch_input_sizes(h, w) == [
        (12 * grids[0][0], 12 * grids[0][1]), (16 * grids[1][0],
                                               16 * grids[1][1])
    ]
    with torch.no_grad():
        (small, large), = model(torch.rand(1, 3, h, w))
    assert tuple(small.shape) == (1, 16, *grids[0])
    assert tuple(large.shape) == (1, 32, *grids[1])


def test_small_branch_sees_padded_input_at_1_5x():
    """Patch (i, j) of the small branch is the bicubic 1.5x resize of input
    pixels [8i, 8i + 8) x [8j, 8j + 8), the canvas zero-padded first (by
    one more token and two pixels)."""
    model = dense(arch=dict(LINEAR, num_encoders=1))
    x = torch.rand(1, 3, 44, 60)
    with torch.no_grad():
        tokens, grids, masks = model._embed_dense(x, None)
        # one token row / column more is embedded and dropped
        padded = F.pad(x, (0, 72 - 60 + 2, 0, 56 - 44 + 2))
        big = F.interpolate(padded, scale_factor=1.5, mode='bicubic',
                            align_corners=False)[:, :, :84, :108]
        ref = model.patch_embeds[0].projection(big)[:, :, :6, :8]
        ref = ref.flatten(2).transpose(1, 2)
    assert grids == [(6, 8), (3, 4)] and masks == [None, None]
    pos = model.dense_pos_embed(0, (6, 8))
    torch.testing.assert_close(tokens[0][:, 1:], ref + pos[:, 1:])


def test_position_codes_depend_only_on_token_index():
    model = dense(dense_pos_size=96)  # r = 12 (stride 8), 6 (stride 16)
    # the released table (CLS + grid) with its grid resized bicubically to
    # the 12 x 12 tokens of dense_pos_size
    pos = model.pos_embeds[0].detach()
    (gh, gw), dims = model.pos_grids[0], pos.shape[-1]
    grid = pos[:, 1:].reshape(1, gh, gw, dims).permute(0, 3, 1, 2)
    grid = F.interpolate(grid, size=(12, 12), mode='bicubic',
                         align_corners=False).flatten(2).transpose(1, 2)
    table = torch.cat([pos[:, :1], grid], 1)
    small = model.dense_pos_embed(0, (5, 7)).detach()
    big = model.dense_pos_embed(0, (12, 12)).detach()
    torch.testing.assert_close(big, table)
    grid = big[0, 1:].reshape(12, 12, -1)
    torch.testing.assert_close(small[0, 1:].reshape(5, 7, -1),
                               grid[:5, :7])
    torch.testing.assert_close(small[:, 0], table[:, 0])  # CLS kept
    # beyond the reference grid the last row / column repeat; inside it
    # nothing changes
    huge = model.dense_pos_embed(0, (14, 15)).detach()[0, 1:].reshape(
        14, 15, -1)
    torch.testing.assert_close(huge[:12, :12], grid)
    torch.testing.assert_close(huge[13, 3], grid[11, 3])
    torch.testing.assert_close(huge[2, 14], grid[2, 11])


@pytest.mark.parametrize('arch', [LINEAR, DAGGER], ids=['linear', 'dagger'])
def test_padding_does_not_change_the_image_features(arch):
    """Image A alone and A at the top-left of a larger zero-padded canvas
    (another image's size) give the same maps over A's tokens when the
    valid sizes are given; without them the padding leaks in."""
    model = dense(arch=arch)
    torch.manual_seed(0)
    a = torch.randn(1, 3, 40, 56)
    canvas = torch.zeros(2, 3, 72, 104)
    canvas[0, :, :40, :56] = a[0]
    canvas[1] = torch.randn(3, 72, 104)
    with torch.no_grad():
        alone = model(a)[-1]
        batched = model(canvas, valid_sizes=[(40, 56), (72, 104)])[-1]
        leaky = model(canvas)[-1]
    for b, s in enumerate((8, 16)):
        h, w = math.ceil(40 / s), math.ceil(56 / s)
        diff = (alone[b] - batched[b][:1, :, :h, :w]).abs().max()
        assert diff <= 1e-4, (b, diff)
        # padded tokens are zero in the output
        assert batched[b][0, :, h:].abs().max() == 0
        assert batched[b][0, :, :, w:].abs().max() == 0
        assert (alone[b] - leaky[b][:1, :, :h, :w]).abs().max() > 1e-3


def test_valid_sizes_from_the_tensor_and_errors():
    model = dense()
    x = torch.zeros(2, 3, 48, 64)
    x[0, :, :32, :40] = torch.rand(3, 32, 40)
    x[1] = torch.rand(3, 48, 64)
    with torch.no_grad():
        explicit = model(x, valid_sizes=[(32, 40), (48, 64)])[-1]
        attached = model(attach_valid_sizes(x, [(32, 40), (48, 64)]))[-1]
    assert get_valid_sizes(x) == [(32, 40), (48, 64)]
    for e, a in zip(explicit, attached):
        assert torch.equal(e, a)
    with pytest.raises(ValueError, match=r'\[\(32, 40\)\]'):
        model(x, valid_sizes=[(32, 40)])
    with pytest.raises(ValueError, match='49, 64'):
        model(x, valid_sizes=[(49, 64), (48, 64)])
    with pytest.raises(ValueError, match='valid sizes'):
        attach_valid_sizes(x, [(0, 4), (48, 64)])


def test_dense_arguments_are_checked():
    with pytest.raises(ValueError, match="out_type='featmap'"):
        CrossViT(arch=copy.deepcopy(LINEAR), dense_strides=(8, 16))
    with pytest.raises(ValueError, match=r'\(8,\)'):
        CrossViT(arch=copy.deepcopy(LINEAR), out_type='featmap',
                 dense_strides=(8, ))
    with pytest.raises(ValueError, match='dense_pos_size'):
        CrossViT(arch=copy.deepcopy(LINEAR), out_type='featmap',
                 dense_strides=(8, 16), dense_pos_size=4)


def test_dense_mode_has_the_classification_parameters():
    """Same parameters and checkpoint keys as the classification model but
    the last encoder's fusions (unused by maps); every one gets a
    gradient in a training step with padding."""
    cls_model = CrossViT(arch='15-dagger')
    model = CrossViT(arch='15-dagger', out_type='featmap',
                     dense_strides=(8, 16))
    keys = set(model.state_dict())
    dead = {k for k in cls_model.state_dict() if k.startswith(
        'encoders.2.fusions.')}
    assert dead and keys == set(cls_model.state_dict()) - dead
    small = dense().train()
    x = torch.rand(2, 3, 40, 56)
    sum(m.sum() for m in small(x, valid_sizes=[(40, 56), (24, 30)])[-1]
        ).backward()
    unused = [n for n, p in small.named_parameters()
              if p.grad is None or not p.grad.abs().sum() > 0]
    assert not unused, unused


def test_with_cp_and_masks():
    model = dense()
    x = torch.rand(2, 3, 40, 56, requires_grad=True)
    sizes = [(40, 56), (24, 30)]
    model.train()
    out = model(x, valid_sizes=sizes)[-1]
    cp = dense(with_cp=True)
    cp.load_state_dict(model.state_dict())
    cp.train()
    out_cp = cp(x, valid_sizes=sizes)[-1]
    for a, b in zip(out, out_cp):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize('window', [None, 4])
def test_compile_one_graph_for_new_valid_sizes(window):
    """Under torch.compile the attached sizes are read as a tensor: batches
    of one padded size but other image sizes (as nearly every detection
    batch has) reuse the graph instead of recompiling for each set of ints,
    with the eager outputs, also when every image fills the canvas. The
    ``eager`` backend runs dynamo (tracing, guards, recompiles) without
    inductor's code generation."""
    import torch._dynamo as dynamo
    torch.manual_seed(0)
    model = dense(dense_window_size=window)
    graphs = []

    def counting_backend(gm, example_inputs):
        graphs.append(gm)
        return gm.forward

    dynamo.reset()
    compiled = torch.compile(model, backend=counting_backend)
    for sizes in [[(48, 64), (40, 56)], [(48, 64), (30, 50)],
                  [(45, 64), (48, 60)], [(48, 64), (48, 64)]]:
        x = attach_valid_sizes(torch.rand(2, 3, 48, 64), sizes)
        with torch.no_grad():
            outs, expected = compiled(x)[-1], model(x)[-1]
        for out, ref in zip(outs, expected):
            torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)
    assert len(graphs) == 1
    dynamo.reset()
