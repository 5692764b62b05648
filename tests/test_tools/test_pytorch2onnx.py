"""tools/deployment/pytorch2onnx.py and mmcrossformer.deployment.onnx_export:
onnxruntime (CPU) against PyTorch.

Fast tests export statically with the tracer (seconds per model) at two
sizes: the CrossFormer++-S and CrossViT-15-dagger classifiers, and the
tensor-mode outputs of a RetinaNet with a small CrossFormer. The dynamo
exporter's symbolic-shape tracing takes minutes for a whole backbone on a
2-core CPU, so the fast dynamic test exports CrossFormer's stem with one SDA
and one LDA block (the backbone's padding code); the whole CrossFormer++-S
and CrossViT-15-dagger dynamic exports are marked slow. The second size of
each dynamic check needs other padding than the export size (stem, group
grids), so a graph with a frozen padding decision would fail it.
"""
import json
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
import torch

from mmcrossformer.deployment import onnx_export as tool
from mmcrossformer.testing import CONFIGS, TOOLS, run_tool

TOOL = 'deployment/pytorch2onnx.py'

CLS_PP_S = osp.join(CONFIGS, 'crossformerpp_s_in1k.py')
CLS_CROSSVIT = osp.join(CONFIGS, 'crossvit_15_dagger_in1k.py')
# CrossFormer++-S widths, heads, group sizes and intervals, 2-2-1-1 blocks
SMALL_PP = {
    'model.backbone.arch':
    dict(_delete_=True, embed_dims=64, depths=[2, 2, 1, 1],
         num_heads=[2, 4, 8, 16], group_size=[4, 4, 14, 7],
         interval=[4, 2, 1, 1], use_acl=True)
}
# a small CrossFormer for the detector's neck and head outputs
TINY_DENSE = {
    'model.backbone.arch':
    dict(_delete_=True, embed_dims=32, depths=[1, 1, 1, 1],
         num_heads=[1, 2, 4, 8], group_size=[7, 7, 7, 7],
         interval=[8, 4, 2, 1]),
    'model.neck.in_channels': [32, 64, 128, 256],
}


def onnx_input_dims(path):
    import onnx
    model = onnx.load(path, load_external_data=False)
    dims = model.graph.input[0].type.tensor_type.shape.dim
    return [d.dim_param or d.dim_value for d in dims]


def test_crossformerpp_s_classifier_two_sizes(tmp_path):
    out = str(tmp_path / 'pp_s.onnx')
    # 64x96: no padding in the stem; 72x100: stem and group padding (the
    # tool as a user runs it; run_tool asserts exit status 0)
    printed = run_tool(TOOL, CLS_PP_S, '--shape', '64', '96', '--out', out,
                       '--verify-shape', '72', '100')
    assert 'classifier, torchscript exporter, opset 17' in printed
    assert '64x96: max |onnxruntime - PyTorch|' in printed
    assert '72x100: max |onnxruntime - PyTorch|' in printed
    assert onnx_input_dims(out) == [1, 3, 64, 96]  # static
    assert osp.isfile(str(tmp_path / 'pp_s_72x100.onnx'))


def test_crossvit_15_dagger_classifier_two_sizes(tmp_path):
    result = tool.pytorch2onnx(
        CLS_CROSSVIT, shape=(96, 128), out=str(tmp_path / 'cv.onnx'),
        verify_shapes=[(112, 80)])
    assert result['names'] == ['output']
    diffs = [c['max_abs_diff'] for c in result['checks']]
    assert [c['shape'] for c in result['checks']] == [(96, 128), (112, 80)]
    assert all(d <= 1e-4 for d in diffs), diffs
    print('CrossViT-15-dagger classifier max |diff|:', diffs)


def test_retinanet_tensor_outputs(tmp_path):
    result = tool.pytorch2onnx(
        osp.join(CONFIGS, 'retinanet_crossformerpp_s_coco.py'),
        shape=(96, 128), out=str(tmp_path / 'det.onnx'),
        verify_shapes=[(96, 128)], cfg_options=TINY_DENSE)
    assert result['names'] == [f'{kind}_{level}'
                               for kind in ('cls_score', 'bbox_pred')
                               for level in range(5)]
    assert result['checks'][0]['max_abs_diff'] <= 1e-4


class _Stage(torch.nn.Module):
    """CrossFormer's stem (CEL, stride 4) and one SDA and one LDA block
    (group 4, interval 4, with an ACL): the padding logic of the backbone
    in a graph that the dynamo exporter handles in seconds."""

    def __init__(self):
        super().__init__()
        from mmcrossformer.models.backbones.crossformer import CrossFormerBlock
        from mmcrossformer.models.layers import CrossScaleEmbedding
        self.stem = CrossScaleEmbedding(3, 32, (4, 8, 16, 32), stride=4)
        self.sda = CrossFormerBlock(32, 2, 4, 4, 'sda')
        self.lda = CrossFormerBlock(32, 2, 4, 4, 'lda', use_acl=True)

    def forward(self, input):
        x = self.lda(self.sda(self.stem(input.permute(0, 2, 3, 1))))
        return (x.permute(0, 3, 1, 2), )


def test_dynamic_export_one_graph_for_two_paddings(tmp_path):
    torch.manual_seed(0)
    module = _Stage().eval()
    out = str(tmp_path / 'stage.onnx')
    # 128x128: nothing padded (32x32 map: 4x4 SDA and 16x16 LDA grids fit)
    info = tool.export_onnx(module, torch.randn(1, 3, 128, 128), out,
                            ['feat'], dynamic=True)
    assert info['exporter'] == 'dynamo'
    assert onnx_input_dims(out) == [1, 3, 'height', 'width']
    # 100x150: stem, SDA and LDA padding, through the same graph
    for hw in [(128, 128), (100, 150)]:
        check = tool.check_onnx(module, out, torch.randn(1, 3, *hw), info)
        assert check['file'] == out and check['max_abs_diff'] <= 1e-4
    # 16x40: a 4x10 map is one group (min side <= group size), a branch
    # the export size did not take: the guards say so, and the graph is
    # indeed wrong there
    x = torch.randn(1, 3, 16, 40)
    assert tool.failed_guards(info['guards'], tuple(x.shape))
    with pytest.raises(tool.ExportError, match='not valid at 16x40'):
        tool.check_onnx(module, out, x, info)
    with torch.no_grad():
        expected = module(x)[0].numpy()
    try:
        actual = tool.run_onnxruntime(out, x)[0][0]
        assert actual.shape != expected.shape or \
            np.abs(actual - expected).max() > 1e-3
    except Exception as err:  # onnxruntime may also fail on a shape
        assert 'ONNXRuntimeError' in str(err), err


def test_tracer_refuses_a_dynamic_export(tmp_path):
    with pytest.raises(tool.ExportError, match='TracerWarning.*dynamo'):
        tool.pytorch2onnx(
            CLS_PP_S, shape=(64, 64), out=str(tmp_path / 'x.onnx'),
            dynamic=True, backbone_only=True, exporter='torchscript',
            cfg_options=SMALL_PP)


def test_two_stage_detector_and_bad_input(tmp_path):
    with pytest.raises(tool.ExportError, match='two-stage.*--backbone-only'):
        tool.pytorch2onnx(
            osp.join(CONFIGS, 'mask_rcnn_crossformerpp_s_coco.py'),
            shape=(64, 64), out=str(tmp_path / 'x.onnx'))
    with pytest.raises(ValueError, match=r'--shape must be .*\(0, 64\)'):
        tool.pytorch2onnx(CLS_PP_S, shape=(0, 64))
    with pytest.raises(ValueError, match='exporter must be one of'):
        tool.export_onnx(torch.nn.Identity(), torch.zeros(1), 'x.onnx',
                         ['output'], exporter='jit')
    # too small for the network: the model's own message, before exporting
    with pytest.raises(ValueError, match='smaller than the network'):
        tool.pytorch2onnx(CLS_PP_S, shape=(16, 64),
                          out=str(tmp_path / 'x.onnx'),
                          cfg_options=SMALL_PP)


@pytest.mark.parametrize('args, message', [
    (['missing.py', '--shape', '64'], 'config not found: missing.py'),
    ([CLS_PP_S, 'missing.pth', '--shape', '64'],
     'checkpoint not found: missing.pth'),
    ([CLS_PP_S, '--shape', '0', '64'], 'positive ints, got (0, 64)'),
    ([CLS_PP_S, '--shape', '64', '--batch', '0'],
     '--batch must be >= 1, got 0'),
])
def test_usage_errors_exit_2(args, message):
    proc = subprocess.run([sys.executable, osp.join(TOOLS, TOOL), *args],
                          capture_output=True, text=True)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert message in proc.stderr


@pytest.mark.slow
def test_full_size_dynamic_crossformerpp_s_backbone(tmp_path):
    """CrossFormer++-S backbone: one dynamic graph at two sizes with other
    padding (about 10 minutes on a busy 2-core CPU)."""
    out = str(tmp_path / 'bb.onnx')
    result = tool.pytorch2onnx(
        CLS_PP_S, shape=(128, 128), out=out, dynamic=True,
        backbone_only=True, verify_shapes=[(100, 150)])
    diffs = [c['max_abs_diff'] for c in result['checks']]
    print('CrossFormer++-S dynamic backbone max |diff|:', diffs, 'export s:',
          result['export']['seconds'])
    assert [c['file'] for c in result['checks']] == [out, out]
    assert all(d <= 1e-4 for d in diffs)
    assert result['export']['restricted'] == []
    saved = json.load(open(str(tmp_path / 'bb.json')))
    assert saved['guards'] == result['export']['guards']
    # stage 3's 16x16 map at 256x256 exceeds its group size 14
    assert tool.failed_guards(saved['guards'], (1, 3, 256, 256))


@pytest.mark.slow
def test_full_size_dynamic_crossvit_backbone_is_restricted(tmp_path):
    """CrossViT-15-dagger exports dynamically, but pads a branch's image only
    when its size is no multiple of the patch (and skips resizes when sizes
    match): the graph serves a lattice of sizes, which the tool says; a
    size on the lattice runs through it, one off the lattice is refused."""
    out = str(tmp_path / 'bb.onnx')
    with pytest.warns(UserWarning, match='branches in Python on the exact'):
        result = tool.pytorch2onnx(
            CLS_CROSSVIT, shape=(96, 128), out=out, dynamic=True,
            backbone_only=True, verify_shapes=[(192, 256)])
    diffs = [c['max_abs_diff'] for c in result['checks']]
    print('CrossViT-15-dagger dynamic backbone max |diff|:', diffs,
          'export s:', result['export']['seconds'])
    assert [c['file'] for c in result['checks']] == [out, out]
    assert all(d <= 1e-4 for d in diffs)
    assert (97, 128) in result['export']['restricted']
    assert tool.failed_guards(result['export']['guards'], (1, 3, 112, 80))
