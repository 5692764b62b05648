"""CrossFormer across execution modes: inference mode then training (cached
tables), dense-prediction settings warning, torch.compile with varying input
sizes."""
import contextlib
import copy
import logging

import pytest
import torch
import torch.nn as nn
from mmengine.logging import MMLogger

from mmcrossformer.models import CrossFormer
from mmcrossformer.models.layers import dpb, lsda
from mmcrossformer.testing import tiny_crossformer as tiny


def clear_table_caches():
    dpb._cached_relative_position_tables.cache_clear()
    lsda._cached_padding_key_mask.cache_clear()


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
    assert dpb._cached_relative_position_tables.cache_info().currsize > 0
    assert lsda._cached_padding_key_mask.cache_info().currsize > 0
    coords, index = dpb.relative_position_tables(4, 4)
    assert not coords.is_inference() and not index.is_inference()
    assert not lsda.padding_key_mask(18, 23, 4, 4, 4, 'cpu').is_inference()
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


@contextlib.contextmanager
def logged_warnings():
    """Collects the WARNING records of the current MMLogger."""
    logger = MMLogger.get_current_instance()
    records = []
    handler = logging.Handler(level=logging.WARNING)
    handler.emit = records.append
    logger.addHandler(handler)
    try:
        yield records
    finally:
        logger.removeHandler(handler)


def forward(model, *size):
    """A forward pass of a (B, 3, *size) input; the blocks are removed
    first to keep the test fast (the check runs before them)."""
    for stage in model.stages:
        stage.blocks = nn.ModuleList()
    with torch.no_grad():
        outs = model.eval()(torch.rand(1, 3, *size))
    assert outs[-1].shape[-2:] == (-(-size[0] // 32), -(-size[1] // 32))


def test_imagenet_settings_on_large_input_warn_once():
    """CrossFormer++ with its ImageNet group sizes / intervals on an input
    where stages 3 and 4 (interval 1) have maps larger than their groups
    (256 x 320: 16 x 20 > 14 and 8 x 10 > 7): one warning per instance,
    naming the arch, the settings, the input, the stages and the fix."""
    model = CrossFormer(arch='pp-s')
    with logged_warnings() as records:
        forward(model, 224, 224)  # pre-training size: one group per map
        assert records == []
        forward(model, 256, 320)
        forward(model, 256, 320)
        forward(model, 320, 320)
    assert len(records) == 1
    msg = records[0].getMessage()
    for part in ["'pp-s'", 'group_size=[4, 4, 14, 7]',
                 'interval=[4, 2, 1, 1]', '256x320', 'stage 3 (16x20',
                 'stage 4 (8x10', 'group_size=[7, 7, 7, 7], '
                 'interval=[8, 4, 2, 1]']:
        assert part in msg, (part, msg)
    assert 'stage 1' not in msg and 'stage 2' not in msg
    # once per instance: another backbone warns again
    with logged_warnings() as records:
        forward(CrossFormer(arch='pp-small'), 256, 256)
    assert len(records) == 1 and "'pp-small'" in records[0].getMessage()


@pytest.mark.parametrize('kwargs', [
    dict(arch='pp-s', group_size=[7, 7, 7, 7], interval=[8, 4, 2, 1]),
    dict(arch='s'),  # v1: ImageNet settings are the dense ones
    dict(arch='t'),
])
def test_dense_settings_do_not_warn(kwargs):
    model = CrossFormer(**kwargs)
    with logged_warnings() as records:
        forward(model, 256, 320)
    assert records == []


def test_settings_check_is_not_traced():
    """Under torch.compile the check is skipped: one graph, no break, and
    the instance still warns in its first eager forward."""
    import torch._dynamo as dynamo
    model = CrossFormer(arch='pp-s')
    for stage in model.stages:
        stage.blocks = nn.ModuleList()
    x = torch.rand(1, 3, 256, 320)
    dynamo.reset()
    with logged_warnings() as records:
        explained = dynamo.explain(model.eval())(x)
        assert records == []
        forward(model, 256, 320)
    assert explained.graph_break_count == 0, explained.break_reasons
    assert explained.graph_count == 1
    assert len(records) == 1
    dynamo.reset()


def test_compile_one_graph_for_varying_input_sizes():
    """torch.compile(dynamic=True) traces the backbone once for inputs of
    different sizes (as detection batches are): whether a map is a multiple
    of the group grid (padding, padding mask, cropping) is no guard of the
    graph. The sizes mix maps with and without padding in every stage, all
    with maps larger than the groups (the same group-shape branch). The
    ``eager`` backend runs dynamo (tracing, guards, recompiles) without
    inductor's code generation."""
    import torch._dynamo as dynamo
    torch.manual_seed(0)
    model = tiny().eval()
    graphs = []

    def counting_backend(gm, example_inputs):
        graphs.append(gm)
        return gm.forward

    dynamo.reset()
    compiled = torch.compile(model, backend=counting_backend, dynamic=True)
    # stage maps (grids 16, 8, 8, 4): 256 x 256 pads nowhere, the others
    # pad some stages along one or both axes
    for size in [(160, 192), (256, 256), (192, 224), (224, 288)]:
        x = torch.rand(2, 3, *size)
        with torch.no_grad():
            outs, expected = compiled(x), model(x)
        for out, ref in zip(outs, expected):
            torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)
    assert len(graphs) == 1
    dynamo.reset()


def test_lsda_compile_one_graph_with_aot_autograd():
    """Same for one L/SDA layer through AOT autograd (``aot_eager``: the
    functionalisation and decompositions inductor runs on), where a view
    whose contiguity depends on the padding would still guard."""
    import torch._dynamo as dynamo
    from torch._dynamo.utils import counters
    torch.manual_seed(0)
    attn = lsda.LSDAttention(16, 2, group_size=4, interval=2, mode='lda')
    attn.eval()
    dynamo.reset()
    counters.clear()
    compiled = torch.compile(attn, backend='aot_eager', dynamic=True)
    # group grid 8: 16 x 16 pads nothing, the others pad one or both axes
    for size in [(12, 20), (16, 16), (24, 20), (20, 28)]:
        x = torch.randn(2, *size, 16)
        with torch.no_grad():
            out, expected = compiled(x), attn(x)
        torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-5)
    assert counters['stats']['unique_graphs'] == 1
    dynamo.reset()
