import pytest
import torch
import torch.nn.functional as F

from mmcrossformer.models.layers import resize_pos_embed


def test_resize_pos_embed():
    pos = torch.randn(1, 1 + 4 * 6, 8)
    same = resize_pos_embed(pos, (4, 6), (4, 6))
    assert same is pos
    out = resize_pos_embed(pos, (4, 6), (7, 5))
    assert out.shape == (1, 1 + 35, 8)
    assert torch.equal(out[:, 0], pos[:, 0])  # CLS kept
    grid = pos[:, 1:].reshape(1, 4, 6, 8).permute(0, 3, 1, 2)
    ref = F.interpolate(grid, size=(7, 5), mode='bicubic',
                        align_corners=False)
    torch.testing.assert_close(out[:, 1:],
                               ref.flatten(2).transpose(1, 2))
    with pytest.raises(ValueError, match='grid'):
        resize_pos_embed(pos, (5, 5), (7, 5))
