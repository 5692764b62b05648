"""DPB (CrossFormer Sec. 3.2.2): the relative-position tables."""
from mmcrossformer.models.layers import relative_position_tables


def test_dpb_tables():
    coords, index = relative_position_tables(3, 2)
    assert coords.shape == (5 * 3, 2)
    pos = [(y, x) for y in range(3) for x in range(2)]
    for i, (yi, xi) in enumerate(pos):
        for j, (yj, xj) in enumerate(pos):
            assert coords[index[i * 6 + j]].tolist() == [yi - yj, xi - xj]
