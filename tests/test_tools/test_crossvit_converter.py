"""tools/model_converters/crossvit_to_mmcf.py: logit parity with timm."""
import os.path as osp
import re
import subprocess
import sys

import pytest
import torch

from mmcrossformer.apis.conversion import (
    conversion_model,
    load_crossvit_strictly,
)
from mmcrossformer.models.utils.ckpt_convert import (
    crossvit_converter,
    detect_crossvit_arch,
)
from mmcrossformer.testing import CONFIGS, TOOLS, run_tool

ARCHS = ['tiny', 'small', 'base', '9', '15', '18', '9-dagger', '15-dagger',
         '18-dagger']
SCRIPT = 'model_converters/crossvit_to_mmcf.py'


def timm_model(arch, seed=0, size=240):
    """timm's crossvit_<arch>_<size> (240, or 408 for the 384 models) with
    random weights, norms and biases included (timm initialises those to
    constants), in eval mode."""
    timm = pytest.importorskip('timm')
    torch.manual_seed(seed)
    model = timm.create_model(f'crossvit_{arch.replace("-", "_")}_{size}')
    with torch.no_grad():
        for name, param in model.named_parameters():
            if param.dim() == 1:
                base = 1. if name.endswith('weight') else 0.
                param.copy_(base + 0.1 * torch.randn_like(param))
    return model.eval()


def to_ibm(state_dict):
    """The same weights under the IBM/CrossViT release names."""
    return {
        re.sub(r'^(cls_token|pos_embed)_(\d+)$', r'\1.\2', k): v
        for k, v in state_dict.items()
    }


def compare_logits(timm_cv, model, size):
    """Max |logit difference| of ``model`` and ``timm_cv`` on a seeded
    ``size`` x ``size`` input (the official input of the pair)."""
    model.eval()
    torch.manual_seed(1)
    x = torch.randn(1, 3, size, size)
    with torch.no_grad():
        ref = timm_cv(x)
        logits = model(x, mode='tensor')
    assert logits.shape == ref.shape == (1, 1000)
    assert ref.std() > 0.1  # not a degenerate comparison
    return (logits - ref).abs().max().item()


@pytest.mark.parametrize('arch', ARCHS)
def test_logits_match_timm(arch):
    timm_cv = timm_model(arch)
    model = conversion_model(
        osp.join(CONFIGS, f'crossvit_{arch.replace("-", "_")}_in1k.py'))
    converted = crossvit_converter(timm_cv.state_dict())
    assert detect_crossvit_arch(converted) == arch
    load_crossvit_strictly(model, converted)
    count = sum(p.numel() for p in model.parameters())
    assert count == sum(p.numel() for p in timm_cv.parameters())
    # the official resolution: the small branch sees 240 as it is, the
    # large one a resize to 224 (timm's img_scale, ours branch_img_sizes)
    diff = compare_logits(timm_cv, model, 240)
    print(f'{arch}: params {count}, max |logit diff| {diff:.2e}')
    assert diff <= 1e-4


@pytest.mark.parametrize('arch', ['15-dagger', '18-dagger'])
def test_384_logits_match_timm(arch):
    """The 384 configs (408 input, branches at 408 / 384) against timm's
    crossvit_<arch>_408: the converted state dict loads strictly with every
    shape as it is (no position-embedding resize) and the logits agree."""
    from mmcrossformer.apis import build_model
    from mmcrossformer.models.utils.ckpt_convert import crossvit_converter
    timm_cv = timm_model(arch, size=408)
    assert timm_cv.pretrained_cfg['input_size'] == (3, 408, 408)
    name = arch.replace('-', '_')
    model = build_model(osp.join(CONFIGS, f'crossvit_{name}_384_in1k.py'))
    converted = crossvit_converter(timm_cv.state_dict())
    ours = model.state_dict()
    assert {k: v.shape for k, v in converted.items()} == {
        k: v.shape for k, v in ours.items()}
    model.load_state_dict(converted, strict=True)
    diff = compare_logits(timm_cv, model, 408)
    print(f'{arch} @408: max |logit diff| {diff:.2e}')
    assert diff <= 1e-4


def test_script_runs_the_package_converter():
    """The tool renames with the package's functions, not a copy."""
    source = open(osp.join(TOOLS, SCRIPT)).read()
    assert 'from mmcrossformer.models.utils.ckpt_convert import' in source
    for name in ('crossvit_converter', 'detect_crossvit_arch'):
        assert name in source and f'def {name}' not in source


def test_ibm_names_convert_alike():
    state = timm_model('9').state_dict()
    ours = crossvit_converter(state)
    ibm = crossvit_converter(to_ibm(state))
    assert list(ours) == list(ibm)
    assert all(ours[k] is ibm[k] for k in ours)
    assert crossvit_converter({'module.cls_token.0': state['cls_token_0']}) \
        == {'backbone.cls_tokens.0': state['cls_token_0']}
    # unknown keys are kept for the strict load to report
    assert 'foo.bar' in crossvit_converter({'foo.bar': torch.zeros(1)})


def test_script_converts_and_rejects_mismatch(tmp_path):
    state = to_ibm(timm_model('tiny').state_dict())
    src = str(tmp_path / 'crossvit_tiny_224.pth')
    torch.save({'model': state}, src)  # wrapped as some releases are
    dst = str(tmp_path / 'out.pth')
    out = run_tool(SCRIPT, src, dst)
    assert 'cls_token.0 -> backbone.cls_tokens.0' in out
    assert 'blocks.0.fusion.0.attn.wq.weight -> ' \
        'backbone.encoders.0.fusions.0.attn.q.weight' in out
    assert "detected variant 'tiny'" in out
    assert 'loaded strictly' in out
    saved = torch.load(dst, weights_only=True)['state_dict']
    assert torch.equal(saved['head.fcs.1.weight'], state['head.1.weight'])

    bad = dict(state)
    del bad['norm.0.weight']
    bad['blocks.0.extra.weight'] = torch.zeros(3)
    bad['head.1.bias'] = torch.zeros(10)
    torch.save(bad, src)
    proc = subprocess.run(
        [sys.executable, osp.join(TOOLS, SCRIPT), src, dst, '--config',
         osp.join(CONFIGS, 'crossvit_tiny_in1k.py')],
        capture_output=True, text=True)
    assert proc.returncode == 1
    err = proc.stderr
    assert 'missing (1)' in err and 'backbone.norms.0.weight' in err
    assert 'unexpected (1)' in err and 'blocks.0.extra.weight' in err
    assert 'wrong shape (1)' in err and 'head.fcs.1.bias' in err


def test_script_checks_384_releases_against_their_config(tmp_path):
    src = str(tmp_path / 'crossvit_15_dagger_384.pth')
    torch.save({'model': to_ibm(timm_model('15-dagger', size=408)
                                .state_dict())}, src)
    out = run_tool(SCRIPT, src, str(tmp_path / 'out.pth'))
    assert 'checking against ' + osp.join(
        CONFIGS, 'crossvit_15_dagger_384_in1k.py') in out
    saved = torch.load(str(tmp_path / 'out.pth'), weights_only=True)
    assert saved['meta']['config'] == 'crossvit_15_dagger_384_in1k.py'
