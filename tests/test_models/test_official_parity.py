"""Our backbones against recorded outputs of the official implementations.

The official code cannot live in this repository, so its outputs are
recorded fixtures (``tests/data/official_fixture_<name>.pth``, written by
``tools/model_converters/record_official_fixture.py`` (library:
``mmcrossformer.testing.official_fixture``) from clones of
cheerss/CrossFormer and IBM/CrossViT): a small official model's state dict
(random weights, norms not the identity), its input and its outputs. Each
test converts the official state dict with OUR converter, loads it strictly
into OUR model built from the equivalent arch dict, runs it in eval mode on
the same input and requires every output to match within 1e-4.

What the fixtures cover (and so which wrong implementations fail here):

* ``crossformerpp_det`` (official dense backbone, CrossFormer++ with ACL):
  SDA / LDA grouping and their order inside a stage, padding of maps that
  are not multiples of ``G`` / ``G * I`` (stages 1-3) and its key mask with a
  batch of two, the whole-map group of maps with ``min(H, W) <= G`` (stage 4,
  at the boundary ``min(H, W) == G``), DPB, ACL
  (depth-4 stage: one ACL after block 3, none after the last block), the CEL
  stem / merging layers and the converter's key mapping for dense
  checkpoints; outputs are the four feature maps.
* ``crossformer_cls`` (official classifier, CrossFormer v1 G = 7, I = 8-4-2-1
  at 128 px, i.e. LDA groups that are mostly padding): the same blocks
  without ACL, the final norm, pooling and the classifier's keys.
* ``crossvit`` (official CrossViT, two branches of patch 12 / 16, widths 16 /
  32, heads 2 / 4): patch embedding, the resize of the small branch's input,
  position embeddings, the transformer layers, the cross-attention fusion
  (projection, LN, cross-attention with the other branch's heads,
  back-projection) after every encoder, the final norms and the head's keys.
"""
import os.path as osp

import pytest
import torch
import torch.nn.functional as F

from mmcrossformer.models.utils.ckpt_convert import (
    crossformer_converter,
    crossvit_converter,
)
from mmcrossformer.testing import REPO
from mmcrossformer.testing import official_fixture as recorder

DATA = osp.join(REPO, 'tests', 'data')
ATOL = 1e-4
NAMES = ['crossformerpp_det', 'crossformer_cls', 'crossvit']


def fixture_path(name):
    return osp.join(DATA, recorder.FIXTURE_PATTERN.format(name))


@pytest.fixture(scope='module', params=NAMES)
def fixture(request):
    return recorder.load_fixture(fixture_path(request.param))


def crossformer_arch(kwargs):
    """Our CrossFormer arch dict and ``mlp_ratio`` for the official
    constructor arguments ``kwargs`` (classification or dense backbone)."""
    ratios = kwargs['mlp_ratio']
    ratios = ratios if isinstance(ratios, list) else [ratios]
    assert len(set(ratios)) == 1, 'our model has one FFN ratio'
    arch = dict(
        embed_dims=kwargs['embed_dim'],
        depths=kwargs['depths'],
        num_heads=kwargs['num_heads'],
        group_size=kwargs['group_size'],
        interval=kwargs['crs_interval'],
        use_acl=kwargs['use_acl'],
        cel_kernels=kwargs['patch_size'],
        merge_kernels=kwargs['merge_size'])
    return arch, float(ratios[0])


def strip(state, prefix):
    return {
        k[len(prefix):]: v
        for k, v in state.items() if k.startswith(prefix)
    }


def build_crossformer_det(fixture):
    from mmcrossformer.models import CrossFormer
    arch, ratio = crossformer_arch(fixture['official']['kwargs'])
    model = CrossFormer(arch=arch, mlp_ratio=ratio, drop_path_rate=0.)
    official = fixture['state_dict']
    # as an mmdet 2.x checkpoint stores the backbone
    converted = crossformer_converter(
        {
            'backbone.' + k: v
            for k, v in official.items()
        }, 'det')
    bare = crossformer_converter(official, 'backbone')
    assert list(bare) == list(converted)
    model.load_state_dict(strip(converted, 'backbone.'), strict=True)
    model.eval()

    def run(x):
        return list(model(x))

    return run


def build_crossformer_cls(fixture):
    from mmcrossformer.models import CrossFormer
    arch, ratio = crossformer_arch(fixture['official']['kwargs'])
    model = CrossFormer(
        arch=arch,
        mlp_ratio=ratio,
        drop_path_rate=0.,
        final_norm=True,
        out_indices=(3, ))
    converted = crossformer_converter(fixture['state_dict'], 'cls')
    model.load_state_dict(strip(converted, 'backbone.'), strict=True)
    head = strip(converted, 'head.fc.')
    assert sorted(head) == ['bias', 'weight']
    model.eval()

    def run(x):
        feats = model(x)[-1].mean((2, 3))  # global average pooling
        return [feats, F.linear(feats, head['weight'], head['bias'])]

    return run


def build_crossvit(fixture):
    from mmcrossformer.models import CrossViT
    kwargs = fixture['official']['kwargs']
    depths = [d[:-1] for d in kwargs['depth']]
    assert all(d == depths[0] for d in depths)
    assert all(d[-1] == 0 for d in kwargs['depth'])  # one fusion, no FFN
    model = CrossViT(
        arch=dict(
            embed_dims=kwargs['embed_dim'],
            depths=depths[0],
            num_heads=kwargs['num_heads'],
            mlp_ratios=kwargs['mlp_ratio'][:2],
            patch_sizes=kwargs['patch_size'],
            num_encoders=len(kwargs['depth'])),
        img_size=fixture['input_shape'][-1],
        branch_img_sizes=kwargs['img_size'],
        drop_path_rate=0.,
        out_type='cls_token')
    converted = crossvit_converter(fixture['state_dict'])
    model.load_state_dict(strip(converted, 'backbone.'), strict=True)
    heads = strip(converted, 'head.fcs.')
    assert len(heads) == 2 * model.num_branches
    model.eval()

    def run(x):
        tokens = []
        hooks = [
            enc.register_forward_hook(
                lambda m, args, out: tokens.extend(t.clone() for t in out))
            for enc in model.encoders
        ]
        try:
            (cls_tokens, ) = model(x)
        finally:
            for h in hooks:
                h.remove()
        logits = torch.stack([
            F.linear(t, heads[f'{b}.weight'], heads[f'{b}.bias'])
            for b, t in enumerate(cls_tokens)
        ]).mean(0)
        return tokens + list(cls_tokens) + [logits]

    return run


BUILDERS = dict(
    crossformerpp_det=build_crossformer_det,
    crossformer_cls=build_crossformer_cls,
    crossvit=build_crossvit)


def test_fixture_files_are_small_and_complete():
    total = 0
    for name in NAMES:
        size = osp.getsize(fixture_path(name))
        assert size < 300 * 1024, f'{name}: {size} bytes'
        total += size
    assert total < 1024 * 1024


def test_fixture_encoding_is_exact():
    """The recorder's int8 grid encoding gives back the exact fp32 values
    (a lossy encoding would make the 1e-4 comparison meaningless); values
    off any int8 grid are kept raw."""
    grid = 1 + torch.arange(-100, 101, 3).float() * 2.**-7
    entry = recorder.encode_tensor(grid)
    assert entry['codes'].dtype == torch.int8 and entry['base'] == 1.
    assert entry['exponent'] == -7
    assert torch.equal(recorder.decode_tensor(entry), grid)
    off_grid = torch.tensor([0.1, 1e-3, -7.25])
    assert torch.equal(
        recorder.decode_tensor(recorder.encode_tensor(off_grid)), off_grid)
    assert 'raw' in recorder.encode_tensor(off_grid)
    x = recorder.make_input(5, [1, 3, 4, 4])
    assert torch.equal(x * 64, (x * 64).round()) and x.abs().max() <= 2


def test_fixture_is_official_and_exercises_what_it_claims(fixture):
    """Guards the recorded set-up: if a fixture is re-recorded with a
    configuration that no longer pads, has no ACL or has degenerate
    outputs, the parity test would prove less than its docstring says."""
    official, kwargs = fixture['official'], fixture['official']['kwargs']
    assert official['repo'].startswith('https://github.com/')
    assert len(official['commit']) == 40
    for out in fixture['outputs']:
        assert out.dtype == torch.float32
        assert out.std() > 0.1, 'degenerate output'
    norms = [
        v for k, v in fixture['state_dict'].items()
        if k.endswith('norm1.weight')
    ]
    assert norms and all((v - 1).abs().max() > 0.05 for v in norms)
    if fixture['name'] == 'crossformerpp_det':
        assert kwargs['use_acl'] and max(kwargs['depths']) >= 4
        assert any('ex_conv' in k for k in fixture['state_dict'])
        h, w = fixture['input_shape'][2:]
        side = [(h // 4 >> i, w // 4 >> i) for i in range(4)]
        g, it = kwargs['group_size'], kwargs['crs_interval']
        # stage 1 pads for SDA and LDA; stage 4 is one whole-map group
        # because min(H, W) == G (the boundary case of the rule)
        assert side[0][0] % g[0] and side[0][1] % (g[0] * it[0])
        assert it[0] > 1 and min(side[0]) > g[0]
        assert min(side[3]) == g[3] < max(side[3])
        assert fixture['input_shape'][0] > 1
    elif fixture['name'] == 'crossformer_cls':
        assert not kwargs['use_acl']
        assert kwargs['group_size'] == [7] * 4
        assert kwargs['crs_interval'] == [8, 4, 2, 1]
    else:
        assert kwargs['num_heads'][0] != kwargs['num_heads'][1]
        assert kwargs['patch_size'][0] != kwargs['patch_size'][1]
        assert len(kwargs['depth']) >= 2


def test_official_parity(fixture):
    """Max |ours - official| <= 1e-4 on every recorded output.

    Fails for any change of the forward pass that the official model does
    not have (see the module docstring), and for converter rules that map
    an official tensor to the wrong place (shape errors or outputs)."""
    run = BUILDERS[fixture['name']](fixture)
    with torch.no_grad():
        outs = run(fixture['input'])
    ref = fixture['outputs']
    assert len(outs) == len(ref), fixture['output_names']
    worst = {}
    for name, got, want in zip(fixture['output_names'], outs, ref):
        assert got.shape == want.shape, name
        worst[name] = (got - want).abs().max().item()
    print(fixture['name'],
          ', '.join(f'{k}: {v:.1e}' for k, v in worst.items()))
    bad = {k: v for k, v in worst.items() if not v <= ATOL}
    assert not bad, f'outputs differ from the official ones: {bad}'
