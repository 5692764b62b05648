"""The ValidSize data preprocessors: mmdet's / mmseg's own padding and
normalisation, plus each image's (h, w) attached to the batch tensor."""
import pytest
import torch
from mmengine.registry import DefaultScope

from mmcrossformer.models.data_preprocessors import get_valid_sizes
from mmcrossformer.registry import MODELS


def _images():
    g = torch.Generator().manual_seed(0)
    return [
        torch.randint(0, 256, (3, 40, 56), generator=g, dtype=torch.uint8),
        torch.randint(0, 256, (3, 64, 48), generator=g, dtype=torch.uint8)
    ]


def _batch(name):
    images = _images()
    if 'Det' in name:
        from mmdet.structures import DetDataSample
        samples = [DetDataSample() for _ in images]
    else:
        from mmengine.structures import PixelData
        from mmseg.structures import SegDataSample
        samples = [
            SegDataSample(
                gt_sem_seg=PixelData(
                    data=torch.zeros((1, ) + img.shape[1:],
                                     dtype=torch.long))) for img in images
        ]
    return dict(inputs=images, data_samples=samples)


@pytest.mark.parametrize('name,parent,divisor', [
    ('ValidSizeDetDataPreprocessor',
     'mmdet.models.data_preprocessors.DetDataPreprocessor',
     'pad_size_divisor'),
    ('ValidSizeSegDataPreprocessor',
     'mmseg.models.data_preprocessor.SegDataPreProcessor', 'size_divisor'),
])
def test_sizes_attached_and_batch_as_parent(name, parent, divisor):
    module, cls = parent.rsplit('.', 1)
    parent_cls = getattr(__import__(module, fromlist=[cls]), cls)
    kwargs = dict(
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True)
    kwargs[divisor] = 32
    with DefaultScope.overwrite_default_scope('mmcrossformer'):
        ours = MODELS.build(dict(type=name, **kwargs))
    theirs = parent_cls(**kwargs)
    assert isinstance(ours, parent_cls)

    out = ours(_batch(name), training=True)
    ref = theirs(_batch(name), training=True)
    assert out['inputs'].shape == (2, 3, 64, 64)
    assert torch.equal(out['inputs'], ref['inputs'])
    assert get_valid_sizes(out['inputs']) == [(40, 56), (64, 48)]
    assert get_valid_sizes(ref['inputs']) is None


@pytest.mark.parametrize(
    'name', ['ValidSizeDetDataPreprocessor', 'ValidSizeSegDataPreprocessor'])
def test_batch_augments_refused(name):
    # mmdet's, named with its scope: found whatever the default scope is
    aug = [dict(type='mmdet.BatchFixedSizePad', size=(64, 64))]
    with pytest.raises(ValueError, match=f'{name} does not support'):
        # whatever default scope earlier tests left behind
        with DefaultScope.overwrite_default_scope('mmcrossformer'):
            MODELS.build(dict(type=name, batch_augments=aug))
