"""Window self-attention with a global CLS token (CrossViT's windowed
dense option): values and gradients against full attention with a block
mask built here from token coordinates, the traced (padding always) path,
and the window geometry."""
import importlib

import pytest
import torch

from mmcrossformer.models.layers import (
    MultiheadSelfAttention,
    token_windows,
)

lsda_module = importlib.import_module('mmcrossformer.models.layers.lsda')
window_module = importlib.import_module(
    'mmcrossformer.models.layers.window_attention')


def block_mask(grid, size, valid):
    """(B, 1 + N, 1 + N) bool, True where query i may see key j, from the
    definition: the CLS token (index 0) sees every valid token and itself;
    patch token (r, c) sees the CLS token and the valid tokens (r', c')
    with r' // size == r // size and c' // size == c // size (windows
    tiled from the top-left token)."""
    h, w = grid
    rows, cols = torch.meshgrid(torch.arange(h), torch.arange(w),
                                indexing='ij')
    win = torch.stack([rows.flatten() // size, cols.flatten() // size], -1)
    same = (win[:, None] == win[None, :]).all(-1)  # (N, N)
    masks = []
    for v in valid:  # (N,) bool per image
        m = torch.zeros(1 + h * w, 1 + h * w, dtype=torch.bool)
        m[0, 0] = True
        m[0, 1:] = v
        m[1:, 0] = True
        m[1:, 1:] = same & v[None, :]
        masks.append(m)
    return torch.stack(masks)


def reference(attn, x, mask):
    """Masked full attention written out (softmax of scaled dot products),
    with the layer's own projections."""
    b, n, c = x.shape
    heads = attn.num_heads
    d = c // heads
    q, k, v = attn.qkv(x).view(b, n, 3, heads, d).permute(2, 0, 3, 1, 4)
    logits = q @ k.transpose(-1, -2) / d**0.5
    logits = logits.masked_fill(~mask[:, None], float('-inf'))
    out = (logits.softmax(-1) @ v).transpose(1, 2).reshape(b, n, c)
    return attn.proj(out)


def valid_tokens(grid, sizes):
    """(B, h * w) bool: token (r, c) of image i is valid iff r < sizes[i][0]
    and c < sizes[i][1]."""
    h, w = grid
    rows, cols = torch.meshgrid(torch.arange(h), torch.arange(w),
                                indexing='ij')
    return torch.stack([((rows < vh) & (cols < vw)).flatten()
                        for vh, vw in sizes])


@pytest.mark.parametrize('grid,size', [((7, 10), 3), ((6, 6), 3),
                                       ((5, 9), 4), ((4, 5), 1)])
def test_window_attention_is_block_masked_full_attention(grid, size):
    """Values and input gradients equal full attention under the block
    mask of the definition, with a padded second image (its invalid tokens
    masked as keys) and a grid that is not a multiple of the window."""
    torch.manual_seed(0)
    attn = MultiheadSelfAttention(16, 2).eval()
    h, w = grid
    sizes = [(h, w), (h - 1, max(w - 3, 1))]
    valid = valid_tokens(grid, sizes)
    x = torch.randn(2, 1 + h * w, 16, requires_grad=True)
    key_mask = torch.nn.functional.pad(valid, (1, 0), value=True)[:, None,
                                                                  None]
    windows = token_windows(grid, size, valid, 2, x.device)
    out = attn(x, key_mask, windows)
    ref = reference(attn, x, block_mask(grid, size, valid))
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)
    g = torch.randn_like(out)
    grad, = torch.autograd.grad(out, x, g)
    grad_ref, = torch.autograd.grad(ref, x, g)
    torch.testing.assert_close(grad, grad_ref, atol=1e-5, rtol=1e-5)
    # the global layer (windows=None) is a different computation here
    if size < max(grid):
        assert (attn(x, key_mask) - out).abs().max() > 1e-3


def test_without_padding_no_window_mask():
    """A grid that tiles exactly with no padded image needs no mask (SDPA
    without one); the result is still the block-masked reference."""
    torch.manual_seed(1)
    attn = MultiheadSelfAttention(8, 2).eval()
    windows = token_windows((4, 6), 2, None, 2, torch.device('cpu'))
    assert windows.key_mask is None and windows.grid == (4, 6)
    x = torch.randn(2, 25, 8)
    valid = torch.ones(2, 24, dtype=torch.bool)
    with torch.no_grad():
        torch.testing.assert_close(
            attn(x, None, windows),
            reference(attn, x, block_mask((4, 6), 2, valid)),
            atol=1e-5, rtol=1e-5)


def test_traced_path_pads_always_with_the_same_values(monkeypatch):
    """While torch.compile traces, the mask is built and the grid padded
    even when nothing is padded (no shape guards); the values are those of
    eager mode."""
    torch.manual_seed(2)
    attn = MultiheadSelfAttention(8, 2).eval()
    x = torch.randn(2, 1 + 35, 8)
    valid = valid_tokens((5, 7), [(5, 7), (3, 4)])
    key_mask = torch.nn.functional.pad(valid, (1, 0), value=True)[:, None,
                                                                  None]
    cases = [((4, 6), 2, None, 25), ((5, 7), 3, valid, 36)]
    eager = []
    with torch.no_grad():
        for grid, size, mask, n in cases:
            xs = x[:, :n]
            km = key_mask if mask is not None else None
            eager.append(attn(xs, km, token_windows(grid, size, mask, 2,
                                                    x.device)))
        for mod in (window_module, lsda_module):
            monkeypatch.setattr(mod, 'pad_always', lambda: True)
        for (grid, size, mask, n), ref in zip(cases, eager):
            windows = token_windows(grid, size, mask, 2, x.device)
            assert windows.key_mask is not None
            km = key_mask if mask is not None else None
            torch.testing.assert_close(attn(x[:, :n], km, windows), ref)


def test_window_geometry_and_errors():
    """Windows are tiled row-major from the top-left token; tokens past the
    grid and masked tokens are invalid keys, the CLS key always valid."""
    valid = valid_tokens((3, 5), [(3, 5), (2, 3)])
    windows = token_windows((3, 5), 2, valid, 2, torch.device('cpu'))
    m = windows.key_mask
    assert tuple(m.shape) == (2 * 2 * 3, 1, 1, 5)
    m = m[:, 0, 0]
    assert m[:, 0].all()
    # image 0: window (0, 0) full, window (0, 2) holds column 4 only,
    # window (1, 1) holds row 2, columns 2-3
    assert m[0, 1:].tolist() == [True] * 4
    assert m[2, 1:].tolist() == [True, False, True, False]
    assert m[4, 1:].tolist() == [True, True, False, False]
    # image 1 (2 x 3 valid): window (0, 1) holds column 2 only
    assert m[6 + 1, 1:].tolist() == [True, False, True, False]
    assert not m[6 + 3:, 1:].any()  # the third row of windows is padding
    for bad in (0, -2, 2.5, True, '3'):
        with pytest.raises(ValueError, match='window size'):
            token_windows((3, 5), bad, None, 1, torch.device('cpu'))
