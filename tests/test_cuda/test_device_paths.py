"""Device-parametrized checks of the backbones (the CPU variant runs in the
default suite, the CUDA one in the lane, ``pytest -m cuda``)."""
import pytest
import torch
from cuda_utils import DEVICES


def _tiny_crossformer():
    from mmcrossformer.models import CrossFormer
    return CrossFormer(
        arch=dict(embed_dims=32, depths=[1, 1, 2, 1], num_heads=[2, 2, 4, 4],
                  group_size=[4, 4, 4, 4], interval=[4, 2, 2, 1]),
        drop_path_rate=0.)


@pytest.mark.parametrize('device', DEVICES)
def test_inference_mode_pass_then_training(device):
    """An ``inference_mode`` forward first (it fills the position-table and
    padding-mask caches), then a training step on the same sizes: the
    cached tensors must not be inference tensors, or autograd refuses to
    save them for backward."""
    torch.manual_seed(0)
    model = _tiny_crossformer().to(device)
    # a size whose groups need padding, and one that divides evenly
    sizes = [(70, 90), (64, 64)]
    with torch.inference_mode():
        model.eval()
        for size in sizes:
            outs = model(torch.randn(1, 3, *size, device=device))
            assert all(o.is_inference() for o in outs)
    model.train()
    for size in sizes:
        for p in model.parameters():
            p.grad = None
        outs = model(torch.randn(2, 3, *size, device=device))
        assert not any(o.is_inference() for o in outs)
        sum(o.square().mean() for o in outs).backward()
        grads = [p.grad for p in model.parameters()]
        assert all(g is not None and torch.isfinite(g).all() for g in grads)
        dpb = [p.grad for n, p in model.named_parameters()
               if '.dpb.pos_proj.weight' in n]
        assert dpb and all(g.abs().sum() > 0 for g in dpb)
