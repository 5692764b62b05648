"""mmcrossformer.AlignResize and the ADE20K test pipelines built on it."""
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
from mmengine.config import Config

from mmcrossformer.testing import CONFIGS, TOOLS


def build_seg_transform(cfg):
    from mmengine.registry import init_default_scope
    from mmseg.registry import TRANSFORMS

    import mmcrossformer  # noqa: F401
    init_default_scope('mmseg')
    return TRANSFORMS.build(cfg)


def test_sizes_of_the_official_rule():
    """Expected sizes computed by hand from the official rule: keep-ratio
    rescale into (2048, 512) (mmcv rounds half up), then ceil to 32."""
    t = build_seg_transform(
        dict(type='mmcrossformer.AlignResize', scale=(2048, 512)))
    for (h, w), expected in [
        ((375, 500), (512, 704)),    # 512 x 683 -> 512 x 704
        ((512, 683), (512, 704)),    # already at scale: only aligned
        ((480, 2000), (512, 2048)),  # long side bound: 492 x 2048 -> 512
        ((256, 256), (512, 512)),    # upscaled, aligned already
    ]:
        img = np.random.RandomState(0).randint(0, 255, (h, w, 3), np.uint8)
        seg = np.zeros((h, w), np.uint8)
        seg[:, w // 2:] = 7
        out = t(dict(img=img, gt_seg_map=seg, img_shape=(h, w),
                     ori_shape=(h, w)))
        assert out['img'].shape == (*expected, 3), (h, w)
        assert out['img_shape'] == expected
        assert out['gt_seg_map'].shape == expected
        # nearest for labels: no new values
        assert set(np.unique(out['gt_seg_map'])) == {0, 7}
        assert out['scale_factor'] == pytest.approx(
            (expected[1] / w, expected[0] / h))
        assert out['keep_ratio'] is True


def test_resize_not_pad():
    """The aligned image is a resize of the whole picture (the official
    transform), not a padded one: the right border column keeps content."""
    t = build_seg_transform(
        dict(type='mmcrossformer.AlignResize', scale=(2048, 512)))
    img = np.full((375, 500, 3), 200, np.uint8)
    out = t(dict(img=img))
    assert out['img'].shape == (512, 704, 3)
    assert (out['img'][:, -1] == 200).all()


def test_bad_arguments():
    from mmcrossformer.datasets import AlignResize
    with pytest.raises(ValueError, match='size_divisor'):
        AlignResize(scale=(2048, 512), size_divisor=0)
    with pytest.raises(ValueError, match='scale'):
        AlignResize()


@pytest.mark.parametrize('flip', [False, True])
def test_ade20k_tta_pipeline(demo_ade20k, flip):
    """The multi-scale test of every ADE20K config, through mmseg's own
    dataset and TestTimeAug: 6 scales (12 views with --flip), each the
    aligned keep-ratio resize of (2048, 512) x ratio."""
    from mmcrossformer.utils.tta import add_flip
    cfg = Config.fromfile(
        osp.join(CONFIGS, 'upernet_crossformerpp_s_ade20k.py'))
    pipeline = cfg.tta_pipeline
    if flip:
        add_flip(pipeline)
        with pytest.raises(ValueError, match='flips already'):
            add_flip(pipeline)
    from mmseg.datasets import ADE20KDataset
    build_seg_transform(dict(type='LoadImageFromFile'))  # sets the scope
    ds = ADE20KDataset(
        data_root=demo_ade20k,
        data_prefix=dict(img_path='images/validation',
                         seg_map_path='annotations/validation'),
        pipeline=pipeline)
    out = ds[0]
    h, w = out['data_samples'][0].ori_shape
    views = out['data_samples']
    assert len(views) == (12 if flip else 6)
    ratios = [0.5, 0.75, 1.0, 1.25, 1.5, 1.75]
    for i, r in enumerate(ratios):
        long_, short = int(2048 * r), int(512 * r)
        s = min(long_ / max(h, w), short / min(h, w))
        kh, kw = int(h * s + 0.5), int(w * s + 0.5)
        expected = (-(-kh // 32) * 32, -(-kw // 32) * 32)
        for v in (views[2 * i:2 * i + 2] if flip else [views[i]]):
            assert v.img_shape == expected, (r, v.img_shape, expected)
    flips = [v.metainfo.get('flip', False) for v in views]
    assert flips == ([False, True] * 6 if flip else [False] * 6)


def test_flip_needs_tta(tmp_path):
    ckpt = tmp_path / 'x.pth'
    ckpt.write_bytes(b'')
    proc = subprocess.run([
        sys.executable, osp.join(TOOLS, 'test.py'),
        osp.join(CONFIGS, 'upernet_crossformerpp_s_ade20k.py'), str(ckpt),
        '--flip'
    ], capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0
    assert '--flip is an option of --tta' in proc.stderr
