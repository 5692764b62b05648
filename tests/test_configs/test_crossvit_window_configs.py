"""The windowed CrossViT-15† dense configs: they change only the window
options of their global base, build the windows they name, and their
features do not depend on batch padding with windows that split the
grid (through the config's data preprocessor and ``extract_feat``)."""
import math

import pytest
import torch
from test_crossvit_configs import build, det_samples, images, load, seg_samples

WINDOWED = {
    'retinanet_crossvit_15_dagger_window_coco.py':
    ('retinanet_crossvit_15_dagger_coco.py', (28, 14)),
    'upernet_crossvit_15_dagger_window_ade20k.py':
    ('upernet_crossvit_15_dagger_ade20k.py', (32, 16)),
}


def flat(value, prefix=''):
    """A config as {dotted key: leaf value}."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            out.update(flat(v, f'{prefix}{k}.'))
        return out
    return {prefix[:-1]: value}


@pytest.mark.parametrize('name', sorted(WINDOWED))
def test_only_the_windows_differ_from_the_global_config(name):
    base_name, sizes = WINDOWED[name]
    cfg, base = flat(load(name).to_dict()), flat(load(base_name).to_dict())
    extra = {k: v for k, v in cfg.items() if base.get(k, object()) != v}
    assert set(base) - set(cfg) == set()
    assert extra == {
        'model.backbone.dense_window_size': sizes,
        'model.backbone.dense_global_layers': ((), (4, 9, 14)),
    }
    model = build(load(name))
    assert model.backbone.dense_window_sizes == sizes
    assert [e.window_layers[1] for e in model.backbone.encoders] == [
        (True, ) * 4 + (False, )] * 3
    assert [e.window_layers[0] for e in model.backbone.encoders] == [
        (True, )] * 3


@pytest.mark.parametrize('name', sorted(WINDOWED))
def test_windowed_features_do_not_depend_on_batch_padding(name):
    """As test_crossvit_configs.py's test for the global configs, with
    images large enough to be split into several windows on both branches
    (A: 240 x 304 pixels, 30 x 38 small / 15 x 19 large tokens, windows
    straddling its border in the batch with B: 288 x 352): A alone and A
    batched give the same pyramid over A's region (<= 1e-4); a copy of the
    batch tensor (sizes lost, padding attended) differs.

    A's sides are multiples of 16: where ceil(side / 8) is odd (e.g. 232)
    the stride-8 level differs for the global configs too, since
    CrossViTPyramid's exchange writes the upsampled large map into the
    first padded small row / column, which its 3 x 3 convolutions then
    read (a neck matter, independent of the windows)."""
    cfg = load(name)
    model = build(cfg).eval()
    (ha, wa), (hb, wb) = (240, 304), (288, 352)
    a, b = images(1, ha, wa)[0], images(2, hb, wb)[1]
    pre = model.data_preprocessor
    if cfg.default_scope == 'mmdet':
        pre.pad_size_divisor = 8  # keep A unpadded when alone
        alone = pre(dict(inputs=[a], data_samples=det_samples([(ha, wa)])))
        pair = pre(dict(inputs=[a, b], data_samples=det_samples(
            [(ha, wa), (hb, wb)])))
    else:
        alone = pre(dict(inputs=[a], data_samples=seg_samples([(ha, wa)])))
        pre.size = (hb, wb)
        pair = pre(dict(inputs=[a, b], data_samples=seg_samples(
            [(ha, wa), (hb, wb)])), training=True)
    assert tuple(alone['inputs'].shape[2:]) == (ha, wa)
    assert tuple(pair['inputs'].shape[2:]) == (hb, wb)
    with torch.no_grad():
        feats_alone = model.extract_feat(alone['inputs'])
        feats_pair = model.extract_feat(pair['inputs'])
        feats_leaky = model.extract_feat(pair['inputs'].clone())
    leaks = []
    for fa, fp, fl, stride in zip(feats_alone, feats_pair, feats_leaky,
                                  model.neck.out_strides):
        h, w = fa.shape[2:]
        assert (h, w) == (math.ceil(ha / stride), math.ceil(wa / stride))
        diff = (fa[0] - fp[0, :, :h, :w]).abs().max().item()
        assert diff <= 1e-4, (stride, diff)
        leaks.append((fa[0] - fl[0, :, :h, :w]).abs().max().item())
    assert max(leaks) > 1e-3, leaks
