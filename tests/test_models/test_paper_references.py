"""Reference implementations written from the papers' definitions.

Each test recomputes a building block from its definition in the paper (and
the official code where the paper leaves a detail open), with plain loops
and masks and the module's own weights, and compares the module's output.
None of the references calls the module's grouping, padding or
relative-position helpers, so a bug there cannot cancel out.

* L/SDA (CrossFormer Sec. 3.2.1, DPB Sec. 3.2.2): grouping rule, padding
  mask, DPB coordinates and sign, whole-map groups.
* ACL (CrossFormer++ Sec. 3.4; official ``models/crossformer.py``,
  ``ex_conv`` / ``ex_ln``): ``LN(dwconv(x))`` without residual, after every
  third block except a stage's last.
* CrossViT cross-attention fusion (CrossViT Sec. 3.3, Eq. 5-7; official
  ``models/crossvit.py``): projection, LN, CLS-query cross-attention with
  the CLS token among the keys and the other branch's heads, residual on the
  projected CLS token, back-projection.
"""
import itertools

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from mmcrossformer.models.backbones.crossformer import (
    CrossFormer,
    CrossFormerStage,
)
from mmcrossformer.models.backbones.crossvit import CrossViT
from mmcrossformer.models.layers import AmplitudeCoolingLayer, LSDAttention

ATOL = 1e-5
# a wrong variant must differ from the module by more than this
MARGIN = 1e-2
LN_EPS = 1e-5  # nn.LayerNorm's default, used by the official CrossFormer
VIT_LN_EPS = 1e-6  # the official CrossViT's norm_layer


def randomize(module: nn.Module, seed: int) -> nn.Module:
    """Random weights of unit-scale activations (Linear / conv weights with
    std ``fan_in ** -0.5``), norm weights ``1 +- 0.2``, biases ``0 +- 0.2``
    (so that no norm is the identity and no bias is zero); eval mode."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in module.named_parameters():
            noise = torch.randn(p.shape, generator=gen)
            if p.dim() >= 2:
                p.copy_(noise * p[0].numel()**-0.5)
            elif name.endswith('weight'):
                p.copy_(1 + 0.2 * noise)
            else:
                p.copy_(0.2 * noise)
    return module.eval()


def layer_norm(x, ln):
    """LN over the last axis with ``ln``'s affine weights, by hand."""
    mean = x.mean(-1, keepdim=True)
    var = ((x - mean)**2).mean(-1, keepdim=True)
    return (x - mean) / torch.sqrt(var + ln.eps) * ln.weight + ln.bias


# ----------------------------------------------------------------------
# (a) L/SDA
def paper_group(y, x, height, width, group, interval, mode):
    """Group key and in-group position (row, col) of token (y, x).

    CrossFormer Sec. 3.2.1: SDA groups are adjacent G x G blocks; LDA
    groups are the tokens sampled every I positions on each axis within a
    block of G * I (for a map padded to a multiple of G * I). A map with
    ``min(H, W) <= G`` is one group (official code).
    """
    if min(height, width) <= group:
        return (0, ), (y, x)
    if mode == 'sda':
        return (y // group, x // group), (y % group, x % group)
    span = group * interval
    key = (y // span, x // span, y % interval, x % interval)
    return key, ((y % span) // interval, (x % span) // interval)


def padded_size(height, width, group, interval, mode):
    """The map size after the bottom / right zero padding of the paper's
    grouping: multiples of G (SDA) or G * I (LDA); none for a whole-map
    group."""
    if min(height, width) <= group:
        return height, width
    div = group * (interval if mode == 'lda' else 1)
    return -(-height // div) * div, -(-width // div) * div


def dpb_reference(dpb, rel):
    """DPB (CrossFormer Fig. 3): Linear(2, D), then twice LN-ReLU-Linear(D,
    D), then LN-ReLU-Linear(D, heads), applied to relative coordinates
    ``rel`` (..., 2) = (dy, dx); returns (..., heads)."""
    h = F.linear(rel, dpb.pos_proj.weight, dpb.pos_proj.bias)
    for seq in (dpb.pos1, dpb.pos2, dpb.pos3):
        ln, relu, linear = seq
        assert isinstance(ln, nn.LayerNorm) and isinstance(relu, nn.ReLU)
        h = F.linear(torch.relu(layer_norm(h, ln)), linear.weight, linear.bias)
    return h


def lsda_reference(attn, x, mode, mask_padding=True, dpb_sign=1):
    """L/SDA of ``x`` (B, H, W, C) from the paper's definition.

    Every token of the padded map (padding: zero inputs) gets its group and
    in-group position from :func:`paper_group`; each real query attends,
    per head, to the keys of its own group, padded keys excluded
    (``mask_padding``), with the bias ``DPB(pos_q - pos_k)`` (``dpb_sign``
    -1 gives the wrong direction ``pos_k - pos_q``). q, k, v are the
    thirds of the module's qkv projection, heads consecutive channel
    slices of each (the official layout); the result goes through the
    module's output projection.
    """
    b, height, width, c = x.shape
    g, it = attn.group_size, attn.interval
    hp, wp = padded_size(height, width, g, it, mode)
    coords = list(itertools.product(range(hp), range(wp)))
    n = len(coords)
    real = torch.tensor([y < height and x_ < width for y, x_ in coords])
    keys, pos = zip(*(paper_group(y, x_, height, width, g, it, mode)
                      for y, x_ in coords))
    key_ids = {key: i for i, key in enumerate(dict.fromkeys(keys))}
    group = torch.tensor([key_ids[key] for key in keys])
    pos = torch.tensor(pos, dtype=torch.float)
    # token pairs (query i, key j): same group, key not padding
    allowed = group[:, None] == group[None, :]
    if mask_padding:
        allowed &= real[None, :]
    rel = pos[:, None, :] - pos[None, :, :]  # pos_i - pos_j, (N, N, 2)
    bias = dpb_reference(attn.dpb, dpb_sign * rel).permute(2, 0, 1)

    tokens = torch.zeros(b, hp, wp, c)
    tokens[:, :height, :width] = x
    tokens = tokens.reshape(b, n, c)
    qkv = F.linear(tokens, attn.qkv.weight, attn.qkv.bias)
    q, k, v = qkv[..., :c], qkv[..., c:2 * c], qkv[..., 2 * c:]
    heads = attn.num_heads
    d = c // heads
    out = torch.zeros(b, n, c)
    for h in range(heads):
        sl = slice(h * d, (h + 1) * d)
        logits = q[..., sl] @ k[..., sl].transpose(1, 2) * d**-0.5 + bias[h]
        logits = logits.masked_fill(~allowed, float('-inf'))
        out[..., sl] = logits.softmax(-1) @ v[..., sl]
    out = F.linear(out, attn.proj.weight, attn.proj.bias)
    return out.reshape(b, hp, wp, c)[:, :height, :width]


LSDA_CASES = [
    # (H, W, G, I): padding for both modes; an LDA group of padding only
    # (columns 13, 15, 17 of the 18 wide map)
    (10, 13, 3, 2),
    # no padding
    (12, 12, 3, 2),
    # larger interval, padding on both axes
    (11, 9, 2, 3),
    # min(H, W) == G: one whole-map group (boundary of the rule)
    (3, 7, 3, 2),
    # min(H, W) < G: one whole-map group
    (2, 5, 3, 2),
]


@pytest.mark.parametrize('mode', ['sda', 'lda'])
@pytest.mark.parametrize('height,width,group,interval', LSDA_CASES)
def test_lsda_matches_paper_grouping(mode, height, width, group, interval):
    """LSDAttention == the paper's L/SDA (1e-5).

    Catches: another grouping (LDA with SDA groups or vice versa, the
    interval applied to the wrong axis order, groups ordered so that the
    ungrouping puts outputs on the wrong tokens), padded keys not masked,
    padding on the wrong side, DPB with ``pos_k - pos_q`` or with the
    coordinates swapped, a whole-map group only for ``min(H, W) < G``, a
    wrong q / k / v / head split of the qkv projection.
    """
    embed_dims, heads = 64, 4  # DPB width 64 / 16 = 4
    attn = randomize(
        LSDAttention(embed_dims, heads, group, interval, mode=mode),
        seed=height * 100 + width)
    gen = torch.Generator().manual_seed(7)
    x = torch.randn(2, height, width, embed_dims, generator=gen)
    with torch.no_grad():
        got = attn(x)
        ref = lsda_reference(attn, x, mode)
    assert got.shape == ref.shape == x.shape
    assert ref.std() > 0.1
    diff = (got - ref).abs().max().item()
    assert diff <= ATOL, f'{mode} {height}x{width}: {diff:.2e}'

    # the reference tells the wrong variants apart from the right one
    with torch.no_grad():
        if min(height, width) > group:  # grouped map, interval > 1
            other = 'lda' if mode == 'sda' else 'sda'
            assert (lsda_reference(attn, x, other) - got).abs().max() \
                > MARGIN
        if (height, width) != padded_size(height, width, group, interval,
                                          mode):
            unmasked = lsda_reference(attn, x, mode, mask_padding=False)
            assert (unmasked - got).abs().max() > MARGIN
        flipped = lsda_reference(attn, x, mode, dpb_sign=-1)
        assert (flipped - got).abs().max() > MARGIN


# ----------------------------------------------------------------------
# (b) ACL
def depthwise_conv3x3(x, conv):
    """Depth-wise 3x3 convolution, stride 1, zero padding 1, of
    channels-last ``x`` (B, H, W, C), by summing the nine shifted maps."""
    b, height, width, c = x.shape
    assert conv.weight.shape == (c, 1, 3, 3)
    padded = torch.zeros(b, height + 2, width + 2, c)
    padded[:, 1:-1, 1:-1] = x
    out = conv.bias.expand(b, height, width, c).clone()
    for dy in range(3):
        for dx in range(3):
            out += conv.weight[:, 0, dy, dx] * \
                padded[:, dy:dy + height, dx:dx + width]
    return out


def acl_reference(acl, x):
    """ACL (CrossFormer++ Sec. 3.4; official ``ex_ln(ex_conv(x))``): a
    depth-wise 3x3 convolution and a LayerNorm, no residual."""
    return layer_norm(depthwise_conv3x3(x, acl.conv), acl.norm)


def acl_with_residual(acl, x):
    """A WRONG ACL: ``LN(x + conv(x))``."""
    return layer_norm(x + depthwise_conv3x3(x, acl.conv), acl.norm)


def test_acl_is_norm_of_depthwise_conv_without_residual():
    """AmplitudeCoolingLayer == LN(dwconv3x3(x)) (1e-5).

    Catches: a residual connection (``LN(x + conv(x))``, checked explicitly
    below), a dense instead of a depth-wise convolution, another kernel
    size or padding, the norm before the convolution, a missing norm.
    """
    acl = randomize(AmplitudeCoolingLayer(8), seed=3)
    gen = torch.Generator().manual_seed(4)
    x = 3 * torch.randn(2, 5, 7, 8, generator=gen)
    with torch.no_grad():
        got = acl(x)
        ref = acl_reference(acl, x)
        wrong = acl_with_residual(acl, x)
    assert (got - ref).abs().max().item() <= ATOL
    assert (got - wrong).abs().max().item() > 0.1


def expected_acl_blocks(depth):
    """Blocks followed by an ACL in a stage of ``depth`` blocks (official
    ``Stage``: every third block, never the stage's last)."""
    return [i for i in range(2, depth - 1, 3)]


@pytest.mark.parametrize('depth', range(1, 9))
def test_acl_placement_in_stage(depth):
    """ACL after blocks 3, 6, ... of a stage, but not after its last block.

    Catches: ACL after every block, after the last block (e.g. depth 3 or
    6), counting from 0 (after blocks 1, 4, ...), or ACL ignoring
    ``use_acl``."""
    stage = CrossFormerStage(16, depth, 1, [2] * depth, 2, use_acl=True)
    got = [i for i, blk in enumerate(stage.blocks) if blk.acl is not None]
    assert got == expected_acl_blocks(depth)
    plain = CrossFormerStage(16, depth, 1, [2] * depth, 2, use_acl=False)
    assert all(blk.acl is None for blk in plain.blocks)
    modes = [blk.attn.mode for blk in stage.blocks]
    assert modes == ['sda', 'lda'] * (depth // 2) + ['sda'] * (depth % 2)


def test_acl_placement_in_backbone():
    """CrossFormer++ with depths (4, 2, 7, 3): ACLs after block 3 of stage
    1 and blocks 3 and 6 of stage 3 only (pp-s with depth 18 in stage 3
    would have five)."""
    model = CrossFormer(
        arch=dict(
            embed_dims=16,
            depths=[4, 2, 7, 3],
            num_heads=[1, 1, 1, 1],
            group_size=[2] * 4,
            interval=[1] * 4,
            use_acl=True))
    got = [[i for i, blk in enumerate(stage.blocks) if blk.acl is not None]
           for stage in model.stages]
    assert got == [[2], [], [2, 5], []]
    assert got == [expected_acl_blocks(d) for d in (4, 2, 7, 3)]


def block_reference(block, x, acl):
    """One CrossFormer block by hand: ``x + LSDA(LN1(x))``, then
    ``x + fc2(GELU(fc1(LN2(x))))``, then ``acl(block.acl, x)`` if the block
    has an ACL. The L/SDA is the module's (checked above)."""
    x = x + block.attn(layer_norm(x, block.norm1))
    fc1, fc2 = block.ffn.layers[0][0], block.ffn.layers[1]
    hidden = F.gelu(F.linear(layer_norm(x, block.norm2), fc1.weight, fc1.bias))
    x = x + F.linear(hidden, fc2.weight, fc2.bias)
    if block.acl is not None:
        x = acl(block.acl, x)
    return x


def test_acl_in_stage_forward():
    """A 4-block CrossFormer++ stage == blocks by hand with
    ``LN(dwconv(x))`` after block 3 (1e-5); the same with
    ``LN(x + dwconv(x))`` differs clearly.

    Catches: an ACL with residual, an ACL before the FFN or before the
    block's residual additions, an ACL after the wrong block."""
    stage = randomize(
        CrossFormerStage(32, 4, 2, [3] * 4, 2, use_acl=True), seed=5)
    gen = torch.Generator().manual_seed(6)
    x = torch.randn(2, 7, 8, 32, generator=gen)
    with torch.no_grad():
        got = stage(x)
        ref, wrong = x, x
        for block in stage.blocks:
            ref = block_reference(block, ref, acl_reference)
            wrong = block_reference(block, wrong, acl_with_residual)
    assert (got - ref).abs().max().item() <= ATOL
    assert (got - wrong).abs().max().item() > 0.1


# ----------------------------------------------------------------------
# (c) CrossViT cross-attention fusion
def projection(seq, x):
    """f / g of CrossViT (official ``projs`` / ``revert_projs``):
    LN -> GELU -> Linear."""
    ln, act, linear = seq
    assert isinstance(ln, nn.LayerNorm) and isinstance(act, nn.GELU)
    assert ln.eps == VIT_LN_EPS
    return F.linear(F.gelu(layer_norm(x, ln)), linear.weight, linear.bias)


def mca(attn, x, heads, cls_key=True):
    """Multi-head cross-attention (Eq. 6) of ``x`` (B, N, C): the CLS token
    (first) is the only query; keys and values are all tokens, the CLS
    token included (``cls_key=False`` leaves it out: a wrong variant);
    scale ``sqrt(C / h)``; then the output projection."""
    c = x.shape[-1]
    d = c // heads
    q = F.linear(x[:, :1], attn.q.weight, attn.q.bias)
    kv = x if cls_key else x[:, 1:]
    k = F.linear(kv, attn.k.weight, attn.k.bias)
    v = F.linear(kv, attn.v.weight, attn.v.bias)
    out = []
    for h in range(heads):
        sl = slice(h * d, (h + 1) * d)
        weights = (q[..., sl] @ k[..., sl].transpose(1, 2) /
                   d**0.5).softmax(-1)
        out.append(weights @ v[..., sl])
    return F.linear(torch.cat(out, -1), attn.proj.weight, attn.proj.bias)


def fusion_reference(fusion, x_own, x_other, heads, variant=None):
    """Eq. 5-7 for branch ``own`` fusing branch ``other``::

        x'   = f(x_own[cls]) || x_other[patches]                (Eq. 5)
        y    = f(x_own[cls]) + MCA(LN(x'))                      (Eq. 6-7)
        z    = g(y) || x_own[patches]                           (Eq. 7)

    ``variant`` gives a wrong implementation: ``'ln_residual'`` (residual
    on the normalised token, ``LN(x')[cls] + MCA(LN(x'))``), ``'no_cls_key'``
    (the CLS token not among the keys), ``'no_back_projection_norm'``
    (``g`` without its LN).
    """
    cls = projection(fusion.project, x_own[:, :1])
    seq = torch.cat([cls, x_other[:, 1:]], 1)
    normed = layer_norm(seq, fusion.ln)
    attended = mca(fusion.attn, normed, heads, cls_key=variant != 'no_cls_key')
    residual = normed[:, :1] if variant == 'ln_residual' else cls
    y = residual + attended
    if variant == 'no_back_projection_norm':
        linear = fusion.back_project[2]
        back = F.linear(F.gelu(y), linear.weight, linear.bias)
    else:
        back = projection(fusion.back_project, y)
    return torch.cat([back, x_own[:, 1:]], 1)


@pytest.fixture(scope='module')
def crossvit():
    """A two-branch CrossViT: widths 16 / 32, heads 2 / 4 (so that using
    the own branch's heads in a fusion shows), random weights."""
    model = CrossViT(
        arch=dict(
            embed_dims=(16, 32),
            depths=(1, 1),
            num_heads=(2, 4),
            mlp_ratios=(2, 2),
            num_encoders=1),
        drop_path_rate=0.)
    return randomize(model, seed=8)


def branch_tokens(seed):
    gen = torch.Generator().manual_seed(seed)
    return [
        torch.randn(2, 1 + 10, 16, generator=gen),
        torch.randn(2, 1 + 6, 32, generator=gen)
    ]


def test_fusion_matches_eq_5_to_7(crossvit):
    """Each CrossAttentionFusion == Eq. 5-7 (1e-5), with the heads of the
    branch it attends in; the wrong variants differ clearly.

    Catches: LN in the residual path, the CLS token left out of the keys,
    the own branch's heads, a missing LN in f or g, patches of the own
    branch instead of the other's, an FFN after the attention, a changed
    patch token."""
    encoder = crossvit.encoders[0]
    xs = branch_tokens(9)
    heads = crossvit.arch_settings['num_heads']
    for i, fusion in enumerate(encoder.fusions):
        j = (i + 1) % 2
        with torch.no_grad():
            got = fusion(xs[i], xs[j])
            ref = fusion_reference(fusion, xs[i], xs[j], heads[j])
            wrongs = {
                variant: fusion_reference(fusion, xs[i], xs[j], heads[j],
                                          variant)
                for variant in ('ln_residual', 'no_cls_key',
                                'no_back_projection_norm')
            }
            wrongs['own_heads'] = fusion_reference(fusion, xs[i], xs[j],
                                                   heads[i])
        assert got.shape == xs[i].shape
        assert torch.equal(got[:, 1:], xs[i][:, 1:])
        assert (got - ref).abs().max().item() <= ATOL, f'fusion {i}'
        for variant, wrong in wrongs.items():
            assert (got - wrong).abs().max().item() > MARGIN, variant


def test_encoder_fuses_each_branch_with_the_other(crossvit):
    """MultiScaleEncoder: the transformer layers of each branch, then the
    fusion of branch i with branch (i + 1) % 2, both reading the layers'
    outputs (1e-5).

    Catches: a branch fused with itself, the fusions swapped, a fusion
    reading the inputs instead of the layer outputs."""
    encoder = crossvit.encoders[0]
    xs = branch_tokens(10)
    heads = crossvit.arch_settings['num_heads']
    with torch.no_grad():
        got = encoder(list(xs))
        layers = []
        for x, branch in zip(xs, encoder.branches):
            for layer in branch:
                x = layer(x)
            layers.append(x)
        ref = [
            fusion_reference(encoder.fusions[i], layers[i],
                             layers[(i + 1) % 2], heads[(i + 1) % 2])
            for i in range(2)
        ]
    for g, r in zip(got, ref):
        assert (g - r).abs().max().item() <= ATOL
