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
