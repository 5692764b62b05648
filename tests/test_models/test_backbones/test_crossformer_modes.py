"""CrossFormer across execution modes: inference mode then training (cached
tables), dense-prediction settings warning, torch.compile with varying input
sizes."""
import copy

import torch

from mmcrossformer.models import CrossFormer
from mmcrossformer.models.backbones import crossformer as cf

TINY = dict(
    embed_dims=32,
    depths=[1, 2, 3, 2],
    num_heads=[1, 2, 4, 8],
    group_size=[4, 4, 4, 4],
    interval=[4, 2, 2, 1],
    use_acl=True)


def tiny(**kwargs):
    kwargs.setdefault('arch', copy.deepcopy(TINY))
    model = CrossFormer(**kwargs)
    model.init_weights()
    return model


def clear_table_caches():
    cf._cached_relative_position_tables.cache_clear()
    cf._cached_padding_key_mask.cache_clear()


def train_step_grads(model, x):
    model.train()
    model.zero_grad(set_to_none=True)
    outs = model(x)
    sum((o * torch.linspace(-1, 1, o.shape[-1])).square().mean()
        for o in outs).backward()
    return {name: p.grad.clone() for name, p in model.named_parameters()}


def test_inference_mode_then_training_step():
    """A forward under ``torch.inference_mode()`` first fills the DPB-table
    and padding-mask caches; a later training step in the same process
    still works and gives exactly the gradients of a model whose caches were
    filled with autograd on."""
    torch.manual_seed(0)
    model = tiny(drop_path_rate=0.)
    fresh = copy.deepcopy(model)
    x = torch.rand(2, 3, 70, 90)  # padded maps in every stage
    clear_table_caches()
    with torch.inference_mode():
        model.eval()(x)
    # the cached tensors are ordinary tensors, not inference tensors
    assert cf._cached_relative_position_tables.cache_info().currsize > 0
    assert cf._cached_padding_key_mask.cache_info().currsize > 0
    coords, index = cf.relative_position_tables(4, 4)
    assert not coords.is_inference() and not index.is_inference()
    assert not cf.padding_key_mask(18, 23, 4, 4, 4, 'cpu').is_inference()
    grads = train_step_grads(model, x)
    clear_table_caches()
    expected = train_step_grads(fresh, x)
    assert grads.keys() == expected.keys()
    for name, grad in grads.items():
        torch.testing.assert_close(grad, expected[name], rtol=0, atol=0,
                                   msg=name)
    # and inference mode after training reuses the tables
    with torch.inference_mode():
        outs = model.eval()(x)
    with torch.no_grad():
        ref = fresh.eval()(x)
    for out, r in zip(outs, ref):
        torch.testing.assert_close(out, r, rtol=0, atol=0)
