"""L/SDA (CrossFormer Sec. 3.2.1): values, gradients and grouping against
the definition, the analysis path, and one graph under torch.compile."""
import copy

import pytest
import torch

from mmcrossformer.models.layers import LSDAttention


def naive_lsda(attn: LSDAttention, x: torch.Tensor) -> torch.Tensor:
    """L/SDA by its definition (CrossFormer Sec. 3.2.1; cheerss
    ``CrossFormerBlock.forward``): full attention over the unpadded map
    where a key is visible iff it is in the query's group; DPB from the
    tokens' offsets inside the group.

    Groups, from the paper and not from the layer's helpers: a map whose
    shorter side is at most G is one group (the official code then runs SDA
    with one group over the padded map); SDA groups G x G adjacent tokens,
    tiled from the top-left; LDA groups the tokens of each (G*I) x (G*I)
    block that share (y mod I, x mod I), I the interval.
    """
    b, h, w, c = x.shape
    size, interval = attn.group_size, attn.interval
    ys, xs = torch.meshgrid(torch.arange(h), torch.arange(w), indexing='ij')
    ys, xs = ys.flatten(), xs.flatten()
    zero = torch.zeros_like(ys)
    if min(h, w) <= size:
        group, py, px = [zero, zero], ys, xs
    elif attn.mode == 'sda':
        group, py, px = [ys // size, xs // size], ys % size, xs % size
    else:
        span = size * interval
        group = [ys // span, xs // span, ys % interval, xs % interval]
        py, px = (ys % span) // interval, (xs % span) // interval
    group = torch.stack(group, -1)
    same = (group[:, None] == group[None, :]).all(-1)
    rel = torch.stack([py[:, None] - py[None, :], px[:, None] - px[None, :]],
                      -1).to(x.dtype)
    dpb = attn.dpb
    bias = dpb.pos3(dpb.pos2(dpb.pos1(dpb.pos_proj(rel))))  # L, L, heads
    heads = attn.num_heads
    d = c // heads
    qkv = attn.qkv(x.reshape(b, h * w, c)).reshape(b, h * w, 3, heads, d)
    q, k, v = qkv.permute(2, 0, 3, 1, 4)
    scores = q @ k.transpose(-1, -2) * d**-0.5 + bias.permute(2, 0, 1)
    scores = scores.masked_fill(~same, float('-inf'))
    out = (scores.softmax(-1) @ v).transpose(1, 2).reshape(b, h, w, c)
    return attn.proj(out)


@pytest.mark.parametrize('mode', ['sda', 'lda'])
@pytest.mark.parametrize('size', [(8, 8), (9, 13), (17, 10), (3, 20)])
def test_lsda_matches_definition_with_padding(mode, size):
    torch.manual_seed(0)
    attn = LSDAttention(32, 4, group_size=4, interval=2, mode=mode).eval()
    x = torch.randn(2, *size, 32)
    out = attn(x)
    assert out.shape == x.shape and torch.isfinite(out).all()
    torch.testing.assert_close(out, naive_lsda(attn, x), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize('mode', ['sda', 'lda'])
@pytest.mark.parametrize('size', [(8, 8), (9, 13)])
def test_lsda_training_path_values_and_grads(mode, size):
    """Train mode with gradients (CPU: the explicit path, the mask needs a
    gradient) equals the definition in values and in every gradient.

    float64: the DPB gradients are sums of terms that nearly cancel (a
    softmax is shift invariant), so in float32 they are round-off noise.
    """
    torch.manual_seed(0)
    attn = LSDAttention(32, 4, group_size=4, interval=2, mode=mode)
    attn = attn.double().train()
    ref = copy.deepcopy(attn)
    x = torch.randn(2, *size, 32, dtype=torch.float64, requires_grad=True)
    x_ref = x.detach().clone().requires_grad_()
    out, expected = attn(x), naive_lsda(ref, x_ref)
    torch.testing.assert_close(out, expected, atol=1e-10, rtol=1e-10)
    weight = torch.randn_like(out)
    (out * weight).sum().backward()
    (expected * weight).sum().backward()
    torch.testing.assert_close(x.grad, x_ref.grad, atol=1e-10, rtol=1e-8)
    for (name, p1), p2 in zip(attn.named_parameters(), ref.parameters()):
        assert p1.grad is not None, name
        torch.testing.assert_close(
            p1.grad, p2.grad, atol=1e-10, rtol=1e-8, msg=name)


def test_lsda_frozen_dpb_uses_sdpa_with_grads():
    """A frozen DPB (mask without gradient) still trains q, k, v through
    SDPA and matches the definition."""
    torch.manual_seed(0)
    attn = LSDAttention(16, 2, group_size=3, interval=2, mode='lda').train()
    attn.dpb.requires_grad_(False)
    x = torch.randn(3, 7, 8, 16, requires_grad=True)
    out = attn(x)
    torch.testing.assert_close(out, naive_lsda(attn, x), atol=1e-5,
                               rtol=1e-5)
    out.sum().backward()
    assert attn.qkv.weight.grad.abs().sum() > 0


def test_no_graph_breaks_under_torch_compile():
    """torch.compile captures the L/SDA forward (LDA with padding) in one
    graph."""
    import torch._dynamo as dynamo
    torch.manual_seed(0)
    model = LSDAttention(16, 2, group_size=3, interval=2, mode='lda')
    x = torch.randn(2, 7, 8, 16)
    dynamo.reset()
    explained = dynamo.explain(model.eval())(x)
    assert explained.graph_break_count == 0, explained.break_reasons
    assert explained.graph_count == 1


def test_lda_groups_by_interval():
    """A query sees exactly the tokens of its LDA group."""
    attn = LSDAttention(16, 1, group_size=2, interval=3, mode='lda').eval()
    x = torch.randn(1, 6, 6, 16, requires_grad=True)
    attn(x)[0, 0, 0].sum().backward()
    seen = x.grad[0].abs().sum(-1) > 0
    expected = torch.zeros(6, 6, dtype=torch.bool)
    expected[::3, ::3] = True  # rows/cols 0 and 3: interval 3, group 2
    assert torch.equal(seen, expected)


@pytest.mark.parametrize('mode', ['sda', 'lda'])
def test_attention_weights_match_forward(mode):
    """The analysis path (explicit weights) reproduces forward()."""
    torch.manual_seed(0)
    attn = LSDAttention(16, 2, group_size=3, interval=2, mode=mode).eval()
    x = torch.randn(1, 7, 10, 16)
    weights = attn.attention_weights(x)  # B, groups, heads, N, N
    groups = attn.token_groups(7, 10)
    assert weights.shape[-1] == 9 and torch.allclose(
        weights.sum(-1), torch.ones(()))
    # rebuild the output of one token from the weights
    y, x0 = 5, 8
    g, p = groups[:, y, x0].tolist()
    v = attn.qkv(x)[..., 32:].reshape(1, 7, 10, 2, 8)
    out = torch.zeros(2, 8)
    for yy in range(7):
        for xx in range(10):
            if groups[0, yy, xx] == g:
                out += weights[0, g, :, p, groups[1, yy, xx], None] * \
                    v[0, yy, xx]
    expected = attn.proj(out.reshape(16))
    torch.testing.assert_close(attn(x)[0, y, x0], expected, atol=1e-5,
                               rtol=1e-5)
