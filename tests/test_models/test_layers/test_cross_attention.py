import pytest
import torch

from mmcrossformer.models.layers import (
    CrossAttention,
    CrossAttentionFusion,
    MultiheadSelfAttention,
)


def test_cross_attention_by_definition():
    """Eq. 6: the CLS token is the only query over all tokens."""
    torch.manual_seed(0)
    attn = CrossAttention(16, 4).eval()
    x = torch.randn(2, 9, 16)
    out = attn(x)
    assert out.shape == (2, 1, 16)
    q = attn.q(x[:, :1]).view(2, 1, 4, 4).transpose(1, 2)
    k = attn.k(x).view(2, 9, 4, 4).transpose(1, 2)
    v = attn.v(x).view(2, 9, 4, 4).transpose(1, 2)
    a = (q @ k.transpose(-1, -2) / 2.0).softmax(-1)
    ref = attn.proj((a @ v).transpose(1, 2).reshape(2, 1, 16))
    torch.testing.assert_close(out, ref)


def test_fusion_is_eq_7():
    torch.manual_seed(0)
    fusion = CrossAttentionFusion(8, 16, 4).eval()
    x = torch.randn(2, 1 + 6, 8)
    other = torch.randn(2, 1 + 10, 16)
    out = fusion(x, other)
    assert out.shape == x.shape
    assert torch.equal(out[:, 1:], x[:, 1:])  # patch tokens untouched
    cls = fusion.project(x[:, :1])  # f
    y = cls + fusion.attn(fusion.ln(torch.cat([cls, other[:, 1:]], 1)))
    torch.testing.assert_close(out[:, :1], fusion.back_project(y))  # g
    # the other branch's CLS token is not a key
    other2 = other.clone()
    other2[:, 0] += 10
    torch.testing.assert_close(fusion(x, other2), out)


@pytest.mark.parametrize('build', [
    lambda: MultiheadSelfAttention(16, 3),
    lambda: CrossAttention(16, 0),
    lambda: CrossAttentionFusion(16, 10, 4),
])
def test_heads_must_divide_width(build):
    with pytest.raises(ValueError, match='num_heads'):
        build()
