"""mmcrossformer.deployment.torchscript_onnx_export and the import rule."""
import subprocess
import sys

import pytest
import torch

from mmcrossformer.deployment import (
    exporter_takes_dynamo,
    torchscript_onnx_export,
)


class _RecordsTracing(torch.nn.Module):
    """Remembers whether its forward ran under the JIT tracer."""

    def forward(self, x):
        self.traced = torch.jit.is_tracing()
        return x * 2


def test_block_exports_with_the_torchscript_exporter(tmp_path):
    pytest.importorskip('onnxruntime')
    import onnxruntime as ort
    model = _RecordsTracing()
    original = torch.onnx.export
    with torchscript_onnx_export():
        torch.onnx.export(model, (torch.ones(1, 3),), str(tmp_path / 'm.onnx'),
                          input_names=['x'], opset_version=17)
    assert torch.onnx.export is original
    # the dynamo exporter runs the forward under torch.export, not the tracer
    assert model.traced
    sess = ort.InferenceSession(str(tmp_path / 'm.onnx'))
    out, = sess.run(None, {'x': torch.full((1, 3), 3.0).numpy()})
    assert (out == 6).all()


def test_block_refuses_dynamo_and_restores_after_errors(tmp_path):
    original = torch.onnx.export
    if not exporter_takes_dynamo():
        pytest.skip('torch.onnx.export has no dynamo switch')
    with pytest.raises(ValueError, match='dynamo=True'):
        with torchscript_onnx_export():
            torch.onnx.export(_RecordsTracing(), (torch.ones(1),),
                              str(tmp_path / 'm.onnx'), dynamo=True)
    assert torch.onnx.export is original


def test_exporter_takes_dynamo():
    assert exporter_takes_dynamo(lambda model, args, dynamo=True: None)
    assert not exporter_takes_dynamo(lambda model, args: None)


def test_importing_the_package_does_not_import_mmdeploy():
    code = ('import sys, mmcrossformer, mmcrossformer.deployment; '
            'print("mmdeploy" in sys.modules)')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True,
                         text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == 'False'


def test_block_restores_the_symbolic_helper_mmdeploy_imports():
    """mmdeploy's RoIAlign symbolic imports _cast_Long from the public
    module, which torch 2.9 no longer fills."""
    import torch.onnx.symbolic_opset9 as public
    had = hasattr(public, '_cast_Long')
    with torchscript_onnx_export():
        from torch.onnx.symbolic_opset9 import _cast_Long
        assert callable(_cast_Long)
    assert hasattr(public, '_cast_Long') == had


def test_block_keeps_static_methods_that_mmdeploy_rewrites():
    """mmdeploy 1.3.1's rewriter gives a rewritten staticmethod back as a
    plain function (mmpretrain's Swin then fails after any export in the
    same process); inside the block it comes back a staticmethod."""
    pytest.importorskip('mmdeploy')
    from mmdeploy.codebase import import_codebase
    from mmdeploy.core import RewriterContext
    from mmdeploy.utils import Codebase
    from mmpretrain.models.utils.attention import ShiftWindowMSA
    import_codebase(Codebase.MMPRETRAIN)
    raw = ShiftWindowMSA.__dict__['get_attn_mask']
    assert isinstance(raw, staticmethod)
    try:
        with RewriterContext(cfg={}, backend='onnxruntime'):
            pass
        # mmdeploy alone loses the descriptor
        assert not isinstance(ShiftWindowMSA.__dict__['get_attn_mask'],
                              staticmethod)
    finally:
        ShiftWindowMSA.get_attn_mask = raw
    with torchscript_onnx_export():
        with RewriterContext(cfg={}, backend='onnxruntime'):
            pass
    assert ShiftWindowMSA.__dict__['get_attn_mask'] is raw
