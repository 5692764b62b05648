"""The published variants of both backbones, as plain data.

``CrossFormer.arch_zoo`` and ``CrossViT.arch_zoo`` are these tables; they
live here, below the backbones, so that checkpoint conversion
(:mod:`.ckpt_convert`) can tell a file's variant from its shapes without
importing the backbones.

Sources: CrossFormer Table 1 and cheerss/CrossFormer ``configs/*.yaml``
(CrossFormer-T/S/B/L, CrossFormer++-S/B/L/H: ``configs/crossformer_pp``);
CrossViT Table 1 and IBM/CrossViT ``models/crossvit.py`` (Ti, S, B, 9, 15,
18 and the dagger variants with the multi-convolution patch embedding).
"""
from typing import Dict

_CF = dict(group_size=[7, 7, 7, 7], interval=[8, 4, 2, 1], use_acl=False)
_PP = dict(group_size=[4, 4, 14, 7], interval=[4, 2, 1, 1], use_acl=True)

#: CrossFormer / CrossFormer++ variants by name and alias (lower case).
CROSSFORMER_ARCH_ZOO: Dict[str, dict] = {
    **dict.fromkeys(['t', 'tiny'], dict(
        embed_dims=64, depths=[1, 1, 8, 6], num_heads=[2, 4, 8, 16],
        drop_path_rate=0.1, **_CF)),
    **dict.fromkeys(['s', 'small'], dict(
        embed_dims=96, depths=[2, 2, 6, 2], num_heads=[3, 6, 12, 24],
        drop_path_rate=0.2, **_CF)),
    **dict.fromkeys(['b', 'base'], dict(
        embed_dims=96, depths=[2, 2, 18, 2], num_heads=[3, 6, 12, 24],
        drop_path_rate=0.3, **_CF)),
    **dict.fromkeys(['l', 'large'], dict(
        embed_dims=128, depths=[2, 2, 18, 2], num_heads=[4, 8, 16, 32],
        drop_path_rate=0.5, **_CF)),
    **dict.fromkeys(['pp-s', 'pp-small'], dict(
        embed_dims=64, depths=[2, 2, 18, 2], num_heads=[2, 4, 8, 16],
        drop_path_rate=0.2, **_PP)),
    **dict.fromkeys(['pp-b', 'pp-base'], dict(
        embed_dims=96, depths=[2, 2, 18, 2], num_heads=[3, 6, 12, 24],
        drop_path_rate=0.3, **_PP)),
    **dict.fromkeys(['pp-l', 'pp-large'], dict(
        embed_dims=128, depths=[2, 2, 18, 2], num_heads=[4, 8, 16, 32],
        drop_path_rate=0.5, **_PP)),
    **dict.fromkeys(['pp-h', 'pp-huge'], dict(
        embed_dims=128, depths=[6, 6, 18, 2], num_heads=[4, 8, 16, 32],
        drop_path_rate=0.5, **_PP)),
}

#: The short names of :data:`CROSSFORMER_ARCH_ZOO`, one per variant.
CROSSFORMER_ARCHS = ('t', 's', 'b', 'l', 'pp-s', 'pp-b', 'pp-l', 'pp-h')

_VIT = dict(mlp_ratios=(4, 4), patch_sizes=(12, 16), num_encoders=3)
_CV = dict(mlp_ratios=(3, 3), patch_sizes=(12, 16), num_encoders=3)

#: CrossViT variants by name and alias (lower case).
CROSSVIT_ARCH_ZOO: Dict[str, dict] = {
    **dict.fromkeys(['ti', 'tiny'], dict(
        embed_dims=(96, 192), depths=(1, 4), num_heads=(3, 3), **_VIT)),
    **dict.fromkeys(['s', 'small'], dict(
        embed_dims=(192, 384), depths=(1, 4), num_heads=(6, 6), **_VIT)),
    **dict.fromkeys(['b', 'base'], dict(
        embed_dims=(384, 768), depths=(1, 4), num_heads=(12, 12), **_VIT)),
}
for _name, _dims, _depth, _heads in [('9', (128, 256), 3, 4),
                                     ('15', (192, 384), 5, 6),
                                     ('18', (224, 448), 6, 7)]:
    for _dagger in (False, True):
        CROSSVIT_ARCH_ZOO[_name + ('-dagger' if _dagger else '')] = dict(
            embed_dims=_dims, depths=(1, _depth), num_heads=(_heads, _heads),
            multi_conv=_dagger, **_CV)

#: The names of :data:`CROSSVIT_ARCH_ZOO`, one per variant.
CROSSVIT_ARCHS = ('tiny', 'small', 'base', '9', '15', '18', '9-dagger',
                  '15-dagger', '18-dagger')
