import copy
import math

import pytest
import torch
import torch.nn as nn

from mmcrossformer.models import CrossFormer
from mmcrossformer.models.backbones.crossformer import CrossFormerBlock
from mmcrossformer.testing import TINY_CROSSFORMER as TINY
from mmcrossformer.testing import tiny_crossformer as tiny

ARCHS = ['t', 's', 'b', 'l', 'pp-s', 'pp-b', 'pp-l', 'pp-h']
@pytest.mark.parametrize('arch', ARCHS)
def test_every_arch_shapes(arch):
    model = CrossFormer(arch=arch).eval()
    dims = model.out_channels
    with torch.no_grad():
        for size in [(224, 224), (250, 333)]:
            outs = model(torch.rand(1, 3, *size))
            assert len(outs) == 4
            for i, out in enumerate(outs):
                stride = 4 * 2**i
                assert out.shape == (1, dims[i], math.ceil(size[0] / stride),
                                     math.ceil(size[1] / stride))
                assert torch.isfinite(out).all()


def test_arch_names_and_aliases():
    for short, long in [('t', 'tiny'), ('s', 'small'), ('b', 'base'),
                        ('l', 'large'), ('pp-s', 'pp-small'),
                        ('pp-b', 'pp-base'), ('pp-l', 'pp-large'),
                        ('pp-h', 'pp-huge')]:
        assert CrossFormer.arch_zoo[short] == CrossFormer.arch_zoo[long]
    with pytest.raises(ValueError, match="'pp-x'.*pp-s"):
        CrossFormer(arch='pp-x')


def test_official_hyper_parameters():
    pp_s = CrossFormer(arch='pp-s')
    assert pp_s.out_channels == (64, 128, 256, 512)
    assert pp_s.group_sizes == [[4] * 2, [4] * 2, [14] * 18, [7] * 2]
    assert pp_s.intervals == [4, 2, 1, 1]
    # ACL after every third block of a stage, except the stage's last block
    acl = [[i for i, blk in enumerate(stage.blocks) if blk.acl is not None]
           for stage in pp_s.stages]
    assert acl == [[], [], [2, 5, 8, 11, 14], []]
    # SDA on even blocks, LDA on odd ones
    assert [b.attn.mode for b in pp_s.stages[2].blocks[:4]] == \
        ['sda', 'lda', 'sda', 'lda']
    # CEL channel split of the stem and of the merging layers
    assert [p.out_channels for p in pp_s.patch_embed.projs] == [32, 16, 8, 8]
    assert [p.kernel_size[0] for p in pp_s.patch_embed.projs] == \
        [4, 8, 16, 32]
    assert [p.out_channels for p in pp_s.stages[1].downsample.projs] == \
        [64, 64]
    s = CrossFormer(arch='s')
    assert all(blk.acl is None for st in s.stages for blk in st.blocks)
    assert s.out_channels == (96, 192, 384, 768)


def test_param_count_matches_official_detection_backbone():
    # 22.81M measured with the official crossformer_backbone_det.py
    # (CrossFormer_S2, i.e. CrossFormer++-S).
    model = CrossFormer(
        arch='pp-s', group_size=[7, 7, 7, 7], interval=[8, 4, 2, 1])
    count = sum(p.numel() for p in model.parameters())
    assert abs(count / 1e6 - 22.81) < 0.005, count


def test_custom_arch_validated():
    model = tiny()
    assert model.out_channels == (32, 64, 128, 256)
    bad = dict(TINY)
    del bad['interval']
    with pytest.raises(ValueError, match='interval'):
        CrossFormer(arch=bad)
    with pytest.raises(ValueError, match='num_heads=3'):
        CrossFormer(arch=dict(TINY, num_heads=[3, 2, 4, 8]))
    with pytest.raises(ValueError, match='one per stage'):
        CrossFormer(arch=dict(TINY, group_size=[4, 4]))
    with pytest.raises(ValueError, match='unknown keys'):
        CrossFormer(arch=dict(TINY, depth=[1, 1, 1, 1]))


def test_out_indices():
    x = torch.rand(1, 3, 64, 64)
    model = tiny(out_indices=(-1, 1)).eval()
    assert model.out_indices == (1, 3)
    outs = model(x)
    assert [o.shape[1] for o in outs] == [64, 256]
    assert tiny(out_indices=2).out_indices == (2, )
    for bad in [4, -5]:
        with pytest.raises(ValueError, match=f'{bad}'):
            tiny(out_indices=(0, bad))


def test_frozen_stages():
    with pytest.raises(ValueError, match='frozen_stages'):
        tiny(frozen_stages=5)
    model = tiny(frozen_stages=2)
    model.train()
    assert not model.patch_embed.training
    for p in model.patch_embed.parameters():
        assert not p.requires_grad
    for i, stage in enumerate(model.stages):
        frozen = i < 2
        assert all(m.training != frozen for m in stage.modules())
        assert all(p.requires_grad != frozen for p in stage.parameters())
    stem_only = tiny(frozen_stages=0).train()
    assert not any(p.requires_grad for p in stem_only.patch_embed.parameters())
    assert all(p.requires_grad for p in stem_only.stages.parameters())


def test_norm_eval_and_train_eval_return_self():
    model = tiny(norm_eval=True)
    assert model.eval() is model
    assert model.train() is model
    # LN has no statistics; a BatchNorm anywhere in the model is kept in eval
    model.stages[0].extra_bn = nn.BatchNorm2d(4)
    model.train()
    assert not model.stages[0].extra_bn.training
    assert model.stages[0].blocks[0].training
    model_no = tiny(norm_eval=False)
    model_no.stages[0].extra_bn = nn.BatchNorm2d(4)
    model_no.train()
    assert model_no.stages[0].extra_bn.training


def test_with_cp_same_output_and_grads():
    torch.manual_seed(0)
    ref = tiny(drop_path_rate=0.)
    ckpt = tiny(drop_path_rate=0., with_cp=True)
    ckpt.load_state_dict(ref.state_dict())
    ref.train(), ckpt.train()
    x = torch.rand(2, 3, 72, 88)
    out_ref = sum(o.square().mean() for o in ref(x))
    out_cp = sum(o.square().mean() for o in ckpt(x))
    out_ref.backward()
    out_cp.backward()
    torch.testing.assert_close(out_cp, out_ref)
    for (name, p1), p2 in zip(ref.named_parameters(), ckpt.parameters()):
        torch.testing.assert_close(p2.grad, p1.grad, msg=name)


def test_training_step_under_bf16_autocast_is_finite():
    """Both attention paths (explicit with the DPB gradient, SDPA without)
    train under CPU bf16 autocast with finite values and gradients."""
    torch.manual_seed(0)
    model = tiny(with_cp=True).train()
    x = torch.randn(2, 3, 70, 90)
    for frozen_dpb in (False, True):
        for name, p in model.named_parameters():
            p.requires_grad_(not (frozen_dpb and '.dpb.' in name))
            p.grad = None
        with torch.autocast('cpu', dtype=torch.bfloat16):
            outs = model(x)
        assert all(o.dtype == torch.bfloat16 for o in outs)
        sum(o.float().square().mean() for o in outs).backward()
        grads = [p.grad for p in model.parameters() if p.requires_grad]
        assert all(g is not None and torch.isfinite(g).all() for g in grads)


def test_no_graph_breaks_under_torch_compile():
    """torch.compile captures the backbone forward in one graph."""
    import torch._dynamo as dynamo
    torch.manual_seed(0)
    model = tiny(with_cp=False)
    x = torch.randn(2, 3, 70, 90)
    dynamo.reset()
    explained = dynamo.explain(model.eval())(x)
    assert explained.graph_break_count == 0, explained.break_reasons
    assert explained.graph_count == 1


def test_forward_does_not_change_state():
    model = tiny().eval()
    before = copy.deepcopy(model.state_dict())
    attrs = [copy.deepcopy({k: v for k, v in vars(m).items()
                            if not k.startswith('_')})
             for m in model.modules()]
    small, big = torch.rand(1, 3, 40, 52), torch.rand(1, 3, 130, 98)
    with torch.no_grad():
        a1 = model(small)
        b1 = model(big)
        b2 = model(big)
        a2 = model(small)
    for o1, o2 in zip(a1 + b1, a2 + b2):
        torch.testing.assert_close(o1, o2, rtol=0, atol=0)
    after = [{k: v for k, v in vars(m).items() if not k.startswith('_')}
             for m in model.modules()]
    assert attrs == after
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), k


def test_bad_input_channels():
    with pytest.raises(ValueError, match=r'\(1, 1, 64, 64\)'):
        tiny()(torch.rand(1, 1, 64, 64))


def test_init_weights(tmp_path):
    from mmengine.logging import MMLogger
    logger = MMLogger.get_instance('test_init_weights')
    model = tiny(init_cfg=dict(type='Pretrained', checkpoint=None))
    # default init: LN ones, Linear biases zero, weights ~ N(0, 0.02)
    w = model.stages[2].blocks[0].attn.qkv.weight
    assert w.std().item() == pytest.approx(0.02, rel=0.2)
    assert torch.all(model.stages[0].blocks[0].norm1.weight == 1)
    # Pretrained with prefix loads exactly the saved weights
    src = tiny()
    ckpt = tmp_path / 'cls.pth'
    torch.save({'state_dict': {f'backbone.{k}': v
                               for k, v in src.state_dict().items()}}, ckpt)
    dst = CrossFormer(
        arch=copy.deepcopy(TINY),
        init_cfg=dict(type='Pretrained', checkpoint=str(ckpt),
                      prefix='backbone.'))
    dst.init_weights()
    for k, v in src.state_dict().items():
        assert torch.equal(dst.state_dict()[k], v), k
    assert logger is not None


def test_block_acl_has_no_residual():
    """CrossFormer++ Sec. 3.4 / cheerss ``ex_conv`` + ``ex_ln``: the block's
    output is LN(DWConv3x3(z)) of its residual stream z, with no shortcut
    around the ACL; written out here with torch.nn.functional, so
    LN(z + DWConv(z)), a missing norm or the ACL before the MLP all fail."""
    import torch.nn.functional as F
    torch.manual_seed(0)
    blk = CrossFormerBlock(16, 2, 4, 2, 'sda', use_acl=True).eval()
    with torch.no_grad():  # non-trivial affine norm and conv bias
        for param in blk.acl.parameters():
            param.copy_(torch.randn_like(param))
    x = torch.randn(1, 8, 8, 16)
    with torch.no_grad():
        z = x + blk.attn(blk.norm1(x))
        z = z + blk.ffn(blk.norm2(z), identity=0)
        conv = F.conv2d(z.permute(0, 3, 1, 2), blk.acl.conv.weight,
                        blk.acl.conv.bias, padding=1, groups=16)
        expected = F.layer_norm(conv.permute(0, 2, 3, 1), (16, ),
                                blk.acl.norm.weight, blk.acl.norm.bias,
                                eps=blk.acl.norm.eps)
        out = blk(x)
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-5)


def test_final_norm_only_on_last_stage():
    model = tiny(final_norm=True, out_indices=(2, 3)).eval()
    outs = model(torch.rand(1, 3, 64, 64))
    last = outs[1].permute(0, 2, 3, 1)
    # LN with default init: zero mean over channels for every position
    torch.testing.assert_close(
        last.mean(-1), torch.zeros(last.shape[:3]), atol=1e-5, rtol=0)
    assert outs[0].permute(0, 2, 3, 1).mean(-1).abs().max() > 1e-3
    assert 'norm.weight' in model.state_dict()
    assert 'norm.weight' not in tiny().state_dict()
