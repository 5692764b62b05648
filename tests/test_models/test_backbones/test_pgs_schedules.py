"""Progressive group sizes (PGS, CrossFormer++): every schedule the package
accepts, block by block, against the official code.

The expected sizes below were worked out by hand from the official
``CrossFormer.compute_group_size`` (cheerss/CrossFormer
``models/crossformer.py``; the same function in
``models/crossformer_backbone_det.py`` and ``crossformer_backbone_seg.py``),
not produced by this package. That function, for a stage-1 token map of side
``R`` and ``N = sum(depths)`` blocks numbered ``k = 0 .. N-1`` over all
stages:

* ``fraction[k] = 4 / R + k * (1 - 4 / R) / N`` (``np.arange``);
* stage ``i`` has side ``s = R // 2**i``; ``gz = s * fraction[k]``;
* ``linear``: ``max(4, ceil(gz))``;
* ``linear_div``: if ``gz > s // 2``: ``gz = s`` when ``gz > 3 s / 4`` or
  ``i != 2``, else ``s // 2``; then as ``linear``;
* ``alter``: if ``gz > s // 2``: ``gz = s`` when ``k`` is odd or ``i != 2``,
  else ``s // 2``; then as ``linear``;
* ``7_14``: ``group_size[i]``, but ``group_size[2] // 2`` for the first 4
  blocks of stage 3;
* ``constant``: ``group_size[i]``.

Worked example, CrossFormer++-S at 224 (``R = 56``, ``N = 24``):
``fraction[k] = (24 + 13 k) / 336``; stage 3 (``s = 14``) has
``gz = (24 + 13 k) / 24`` for ``k = 4 .. 21``, i.e. 3.17, 3.71, 4.25, ...,
12.38, so ``linear`` gives 4, 4, 5, 5, ..., 13; ``gz`` first exceeds
``s // 2 = 7`` at ``k = 12`` (7.5) and ``3 s / 4 = 10.5`` at ``k = 18``
(10.75).

Resolutions: the official ImageNet configs train at 224 (``R = 56``,
``configs/crossformer_pp/*.yaml``); the official detection and segmentation
backbones are built with ``img_size=[1024, 1024]`` (``R = 256``,
``detection/crossformer_factory.py``, ``segmentation/crossformer_factory.py``),
which is what the schedules would see there (``pretrain_img_size=1024``
here). Archs: CrossFormer++-S/B/L have depths 2-2-18-2, CrossFormer++-H
6-6-18-2; per-stage group sizes 4-4-14-7 (ImageNet yamls) or 7-7-7-7 (dense
configs). The official configs all use ``GROUP_TYPE: constant``; the other
schedules are the ones ``models/build.py`` accepts.
"""
import pytest

from mmcrossformer.models import CrossFormer
from mmcrossformer.models.backbones.crossformer import (
    PGS_SCHEDULES,
    progressive_group_sizes,
)

IMAGENET_GS = [4, 4, 14, 7]
DENSE_GS = [7, 7, 7, 7]
SHALLOW = [2, 2, 18, 2]  # CrossFormer++-S, -B, -L
DEEP = [6, 6, 18, 2]  # CrossFormer++-H
ARCHS = {'pp-s': SHALLOW, 'pp-b': SHALLOW, 'pp-l': SHALLOW, 'pp-h': DEEP}


def _rep(value, n):
    return [value] * n


# (depths, R) -> schedule -> sizes[stage][block]; 'constant' and '7_14'
# depend on the per-stage group sizes and are listed separately below.
EXPECTED = {
    ('shallow', 56): {
        'linear': [[4, 7], [5, 6],
                   [4, 4, 5, 5, 6, 6, 7, 7, 8, 9, 9, 10, 10, 11, 11, 12, 12,
                    13],
                   [7, 7]],
        'linear_div': [[4, 7], [5, 6],
                       [4, 4, 5, 5, 6, 6, 7, 7] + _rep(7, 6) + _rep(14, 4),
                       [7, 7]],
        'alter': [[4, 7], [5, 6],
                  [4, 4, 5, 5, 6, 6, 7, 7] + [7, 14] * 5,
                  [7, 7]],
    },
    ('shallow', 256): {
        # fraction[k] = (8 + 21 k) / 512 (exact in binary): stage 3 has
        # gz = (8 + 21 k) / 8, 22 and 43 exactly at k = 8 and 16
        'linear': [[4, 15], [13, 18],
                   [12, 15, 17, 20, 22, 25, 28, 30, 33, 36, 38, 41, 43, 46,
                    49, 51, 54, 57],
                   [30, 31]],
        'linear_div': [[4, 15], [13, 18],
                       [12, 15, 17, 20, 22, 25, 28, 30] + _rep(32, 6) +
                       _rep(64, 4),
                       [32, 32]],
        'alter': [[4, 15], [13, 18],
                  [12, 15, 17, 20, 22, 25, 28, 30] + [32, 64] * 5,
                  [32, 32]],
    },
    ('deep', 56): {
        # fraction[k] = (32 + 13 k) / 448
        'linear': [[4, 6, 8, 9, 11, 13], [7, 8, 9, 10, 11, 11],
                   [6, 7, 7, 8, 8, 8, 9, 9, 10, 10, 10, 11, 11, 12, 12, 12,
                    13, 13],
                   [7, 7]],
        'linear_div': [[4, 6, 8, 9, 11, 13], [7, 8, 9, 10, 11, 11],
                       [6] + _rep(7, 11) + _rep(14, 6),
                       [7, 7]],
        'alter': [[4, 6, 8, 9, 11, 13], [7, 8, 9, 10, 11, 11],
                  [6, 7, 7] + [14, 7] * 7 + [14],
                  [7, 7]],
    },
    ('deep', 256): {
        # fraction[k] = (32 + 63 k) / 2048
        'linear': [[4, 12, 20, 28, 36, 44], [26, 30, 34, 38, 42, 46],
                   [25, 27, 29, 31, 33, 35, 37, 39, 41, 43, 45, 47, 49, 51,
                    53, 55, 57, 59],
                   [31, 32]],
        'linear_div': [[4, 12, 20, 28, 36, 44], [26, 30, 34, 38, 42, 46],
                       [25, 27, 29, 31] + _rep(32, 8) + _rep(64, 6),
                       [32, 32]],
        'alter': [[4, 12, 20, 28, 36, 44], [26, 30, 34, 38, 42, 46],
                  [25, 27, 29, 31] + [32, 64] * 7,
                  [32, 32]],
    },
}
# independent of R
PER_STAGE = {
    ('shallow', 'constant', 'imagenet'):
        [[4, 4], [4, 4], _rep(14, 18), [7, 7]],
    ('shallow', 'constant', 'dense'): [[7, 7], [7, 7], _rep(7, 18), [7, 7]],
    ('shallow', '7_14', 'imagenet'):
        [[4, 4], [4, 4], _rep(7, 4) + _rep(14, 14), [7, 7]],
    ('shallow', '7_14', 'dense'):
        [[7, 7], [7, 7], _rep(3, 4) + _rep(7, 14), [7, 7]],
    ('deep', 'constant', 'imagenet'):
        [_rep(4, 6), _rep(4, 6), _rep(14, 18), [7, 7]],
    ('deep', 'constant', 'dense'):
        [_rep(7, 6), _rep(7, 6), _rep(7, 18), [7, 7]],
    ('deep', '7_14', 'imagenet'):
        [_rep(4, 6), _rep(4, 6), _rep(7, 4) + _rep(14, 14), [7, 7]],
    ('deep', '7_14', 'dense'):
        [_rep(7, 6), _rep(7, 6), _rep(3, 4) + _rep(7, 14), [7, 7]],
}
GROUP_SIZES = {'imagenet': IMAGENET_GS, 'dense': DENSE_GS}


def expected(arch, schedule, resolution, which):
    depth = 'deep' if ARCHS[arch] is DEEP else 'shallow'
    if schedule in ('constant', '7_14'):
        return PER_STAGE[(depth, schedule, which)]
    return EXPECTED[(depth, resolution)][schedule]


CASES = [(arch, schedule, resolution, which)
         for arch in ARCHS for schedule in PGS_SCHEDULES
         for resolution in (56, 256) for which in ('imagenet', 'dense')]


def test_table_is_complete():
    """Every schedule the package accepts is in the table, which is shaped
    like the archs, and no other schedule is accepted."""
    assert set(PGS_SCHEDULES) == {'constant', 'linear', 'linear_div',
                                  'alter', '7_14'}
    for arch, schedule, resolution, which in CASES:
        sizes = expected(arch, schedule, resolution, which)
        assert [len(s) for s in sizes] == ARCHS[arch]
    with pytest.raises(ValueError, match='linear_div'):
        progressive_group_sizes('nope', IMAGENET_GS, SHALLOW)


@pytest.mark.parametrize('arch,schedule,resolution,which', CASES)
def test_schedule_matches_official(arch, schedule, resolution, which):
    got = progressive_group_sizes(schedule, GROUP_SIZES[which], ARCHS[arch],
                                  resolution)
    want = expected(arch, schedule, resolution, which)
    assert got == want, (arch, schedule, resolution)
    assert all(type(g) is int for stage in got for g in stage)


def test_thresholds_are_strict():
    """Not an official setting: depths 2-2-9-2 at R = 64 put ``gz`` exactly
    on ``s // 2`` (block 7, gz = 8) and ``3 s / 4`` (block 11, gz = 12) of
    stage 3 (s = 16), with ``fraction[k] = (1 + k) / 16`` exact in binary.
    The official comparisons are strict, so ``alter`` keeps 8 at block 7
    (16 with ``>=``) and ``linear_div`` halves at block 11 (16 with ``>=``).
    (``linear_div`` at exactly ``s // 2`` gives ``s // 2`` either way.)"""
    depths = [2, 2, 9, 2]
    want = {
        'linear': [[4, 8], [6, 8], [5, 6, 7, 8, 9, 10, 11, 12, 13], [7, 8]],
        'linear_div': [[4, 8], [6, 8], [5, 6, 7, 8, 8, 8, 8, 8, 16], [8, 8]],
        'alter': [[4, 8], [6, 8], [5, 6, 7, 8, 8, 16, 8, 16, 8], [8, 8]],
    }
    for schedule, sizes in want.items():
        assert progressive_group_sizes(schedule, DENSE_GS, depths, 64) == \
            sizes, schedule


@pytest.mark.parametrize('schedule', PGS_SCHEDULES)
@pytest.mark.parametrize('arch,img_size', [('pp-s', 224), ('pp-h', 1024)])
def test_backbone_builds_every_block_with_schedule(arch, schedule, img_size):
    """The backbone passes the arch's depths and group sizes and
    pretrain_img_size / 4 to the schedule, and every block is built with
    its size."""
    model = CrossFormer(arch=arch, group_schedule=schedule,
                        pretrain_img_size=img_size, drop_path_rate=0.)
    want = expected(arch, schedule, img_size // 4, 'imagenet')
    assert model.group_sizes == want
    assert [[b.attn.group_size for b in s.blocks]
            for s in model.stages] == want


def test_per_block_group_sizes_bypass_the_schedule():
    per_block = [[4], [4, 8], [2, 4, 6], [7, 7]]
    arch = dict(embed_dims=32, depths=[1, 2, 3, 2], num_heads=[1, 2, 4, 8],
                group_size=[4] * 4, interval=[4, 2, 2, 1])
    model = CrossFormer(arch=arch, group_size=per_block,
                        group_schedule='alter')
    assert model.group_sizes == per_block
    assert [[b.attn.group_size for b in s.blocks]
            for s in model.stages] == per_block
    with pytest.raises(ValueError, match='lists 1 blocks'):
        CrossFormer(arch=arch, group_size=[[4], [4], [2, 4, 6], [7, 7]])
