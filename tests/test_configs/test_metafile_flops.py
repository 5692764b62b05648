"""The metafiles' FLOPs are what mmcrossformer.apis.get_flops counts.

``FLOPs`` in configs/<family>/metafile.yml is the count of the project's
own tool at the papers' input size (:func:`flops_shape`), rounded to
0.01G; the published number, where there is one, is ``FLOPs (paper)``.
The default suite recomputes a few classifiers (seconds each); the dense
models (tens of seconds each on two CPU cores) are marked slow.
"""
import os.path as osp

import pytest
import yaml
from mmengine.config import Config

from mmcrossformer.apis.flops import DEFAULT_SHAPES, get_flops
from mmcrossformer.testing import CONFIGS

REPO = osp.dirname(CONFIGS)
FAMILIES = ('crossformer', 'crossformerpp', 'crossvit')
MODELS = {
    osp.basename(model['Config']): model
    for fam in FAMILIES
    for model in yaml.safe_load(
        open(osp.join(CONFIGS, fam, 'metafile.yml')))['Models']
}


def flops_shape(config: str):
    """(H, W) at which the metafile counts ``config``: a classifier at the
    input side its backbone is built for (224; CrossViT 240, or 408 for the
    384 models), a detector at 1280 x 800, a segmentor at 512 x 2048 (the
    papers' tables; :data:`DEFAULT_SHAPES`)."""
    cfg = Config.fromfile(osp.join(CONFIGS, config))
    if cfg.default_scope == 'mmpretrain':
        side = cfg.model.backbone.get('img_size', 224)
        return (side, side)
    return DEFAULT_SHAPES[cfg.default_scope]


def check(config):
    meta = MODELS[config]['Metadata']
    result = get_flops(osp.join(CONFIGS, config), flops_shape(config))
    measured = result['flops']
    print(f'{config} at {result["shape"]}: {measured / 1e9:.2f} GFLOPs '
          f'(metafile {meta["FLOPs"] / 1e9:.2f}, paper '
          f'{meta.get("FLOPs (paper)", 0) / 1e9:.2f})')
    assert abs(measured - meta['FLOPs']) <= 0.5e7, (measured, meta['FLOPs'])
    # (test_all_configs.py checks parameters to 0.02M, as here)
    assert abs(result['params'] - meta['Parameters']) <= 2e4


def test_every_model_has_measured_flops():
    for name, model in MODELS.items():
        meta = model['Metadata']
        assert isinstance(meta.get('FLOPs'), int), name
        assert meta['FLOPs'] % 10**7 == 0, name  # rounded to 0.01G
        assert isinstance(meta.get('Parameters'), int), name
        paper = meta.get('FLOPs (paper)')
        if paper is not None:
            assert isinstance(paper, int), name
            # the published number is the same order of magnitude
            assert 0.7 < meta['FLOPs'] / paper < 1.3, name
        if model.get('Results'):
            # every published result comes with its published FLOPs
            assert paper is not None, name


@pytest.mark.parametrize('config', [
    'crossformer_t_in1k.py',
    'crossformerpp_s_in1k.py',  # paper 4.9G; official flops() 4.39G
    'crossvit_9_dagger_in1k.py',
    'crossvit_15_dagger_384_in1k.py',
])
def test_classifier_flops_match_metafile(config):
    check(config)


@pytest.mark.slow
@pytest.mark.parametrize('config', [
    'retinanet_crossformer_s_coco.py',
    'cascade_mask_rcnn_crossformer_s_coco_3x.py',
    'fpn_crossformerpp_s_ade20k.py',
    'upernet_crossformer_s_ade20k.py',
    'retinanet_crossvit_15_dagger_coco.py',
    'retinanet_crossvit_15_dagger_window_coco.py',
])
def test_dense_flops_match_metafile(config):
    check(config)
