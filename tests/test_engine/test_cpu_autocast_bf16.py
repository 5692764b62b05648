import pytest
import torch

from mmcrossformer.engine import CPUAutocastOptimWrapper
from mmcrossformer.models import CrossFormer


def test_wrapper_autocasts_forward_and_steps():
    model = torch.nn.Linear(4, 2)
    wrapper = CPUAutocastOptimWrapper(
        optimizer=torch.optim.SGD(model.parameters(), lr=0.1))
    with wrapper.optim_context(model):
        out = model(torch.randn(3, 4))
    assert out.dtype == torch.bfloat16
    before = model.weight.detach().clone()
    wrapper.update_params(out.float().square().mean())
    assert not torch.equal(before, model.weight)
    with pytest.raises(ValueError, match='float64'):
        CPUAutocastOptimWrapper(
            dtype='float64',
            optimizer=torch.optim.SGD(model.parameters(), lr=0.1))


@pytest.mark.parametrize('arch', ['t', 's', 'b', 'l', 'pp-s', 'pp-b', 'pp-l',
                                  'pp-h'])
def test_every_arch_finite_under_bf16_autocast(arch):
    model = CrossFormer(arch=arch).eval()
    sizes = [(224, 224)]
    if arch == 'pp-s':
        sizes.append((800, 1216))  # detection size, with group padding
    with torch.no_grad(), torch.autocast('cpu', dtype=torch.bfloat16):
        for size in sizes:
            outs = model(torch.rand(1, 3, *size))
            assert all(torch.isfinite(o.float()).all() for o in outs)
            assert outs[0].dtype == torch.bfloat16


@pytest.mark.parametrize('dtype,name', [(torch.float16, 'Half'),
                                        (torch.bfloat16, 'BFloat16')])
def test_fp32_mmcv_ops(dtype, name):
    """mmcv 2.1's CPU nms refuses Half and BFloat16 boxes, its CPU
    roi_align BFloat16 and features and rois of two dtypes (autocast mixes
    low-precision features and fp32 rois); inside fp32_mmcv_ops both run in
    fp32 and return the input's dtype, with a gradient for the features,
    and mmcv's functions are restored afterwards."""
    import sys

    import mmcv.ops

    from mmcrossformer.engine.optimizers import fp32_mmcv_ops
    boxes = torch.tensor([[0., 0., 10., 10.], [1., 1., 11., 11.],
                          [50., 50., 60., 60.]]).to(dtype)
    scores = torch.tensor([0.9, 0.8, 0.7]).to(dtype)
    feats = torch.rand(1, 4, 16, 16).to(dtype).requires_grad_()
    rois = torch.tensor([[0., 1., 1., 9., 9.]])
    nms_mod = sys.modules['mmcv.ops.nms']
    original = nms_mod.nms
    with pytest.raises(RuntimeError, match=name):
        mmcv.ops.RoIAlign((2, 2), 1.0)(feats, rois)
    with pytest.raises(RuntimeError, match=name):
        mmcv.ops.batched_nms(boxes, scores, torch.zeros(3),
                             dict(type='nms', iou_threshold=0.5))
    with fp32_mmcv_ops():
        dets, keep = mmcv.ops.batched_nms(
            boxes, scores, torch.zeros(3), dict(type='nms',
                                                iou_threshold=0.5))
        pooled = mmcv.ops.RoIAlign((2, 2), 1.0)(feats, rois)
    assert keep.tolist() == [0, 2] and dets.dtype == dtype
    assert pooled.shape == (1, 4, 2, 2) and pooled.dtype == dtype
    pooled.float().sum().backward()
    assert feats.grad.dtype == dtype and feats.grad.abs().sum() > 0
    assert nms_mod.nms is original
