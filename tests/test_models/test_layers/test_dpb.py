"""DPB (CrossFormer Sec. 3.2.2): the relative-position tables."""
import pytest

from mmcrossformer.models.layers import (
    DynamicPositionBias,
    LSDAttention,
    relative_position_tables,
)


def test_dpb_tables():
    coords, index = relative_position_tables(3, 2)
    assert coords.shape == (5 * 3, 2)
    pos = [(y, x) for y in range(3) for x in range(2)]
    for i, (yi, xi) in enumerate(pos):
        for j, (yj, xj) in enumerate(pos):
            assert coords[index[i * 6 + j]].tolist() == [yi - yj, xi - xj]


@pytest.mark.parametrize('embed_dims', [8, 15])
def test_zero_width_dpb_refused(embed_dims):
    """L/SDA's DPB is embed_dims // 16 wide: below 16 channels it would be
    an empty MLP giving one constant bias, so it is refused."""
    with pytest.raises(ValueError, match='embed_dims must be at least 16'):
        LSDAttention(embed_dims, 1, group_size=2, interval=2, mode='sda')
    with pytest.raises(ValueError, match='hidden_dims=0'):
        DynamicPositionBias(0, 2)
