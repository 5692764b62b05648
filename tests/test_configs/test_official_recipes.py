"""The configs follow the official recipes, field by field.

The official values are a table kept as test data
(``tests/data/official_recipes.yml``, one row per official file); this test
compares them with the resolved configs, with the group sizes / intervals of
the backbones the configs build, and with the weight decay every parameter
gets from the optimizer the config builds (mmengine's
``build_optim_wrapper``, i.e. exactly what training uses). The built-model
checks run inside ``test_all_configs.py`` (:func:`check_built_model`), which
builds every config once.
"""
import functools
import glob
import gzip
import json
import math
import os.path as osp

import pytest
import torch
import yaml
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper

from mmcrossformer.models.utils.ckpt_convert import crossformer_rename_key
from mmcrossformer.testing import CONFIGS, REPO
from mmcrossformer.testing import build_config_model as build

TABLE = osp.join(REPO, 'tests', 'data', 'official_recipes.yml')
ROWS = yaml.safe_load(open(TABLE))
CASES = [(name, i) for i, row in enumerate(ROWS) for name in row['configs']]


def lookup(cfg, path: str):
    value = cfg
    for part in path.split('.'):
        if isinstance(value, (list, tuple)):
            value = value[int(part)]
        elif part in value:
            value = value[part]
        else:
            raise KeyError(f'{path}: no {part!r} in {value!r}')
    return value


def same(actual, expected) -> bool:
    if isinstance(expected, list):
        return (isinstance(actual, (list, tuple))
                and len(actual) == len(expected)
                and all(same(a, e) for a, e in zip(actual, expected)))
    if isinstance(expected, float):
        return isinstance(actual, (int, float)) and math.isclose(
            actual, expected, rel_tol=1e-12, abs_tol=0.0)
    return type(actual) is type(expected) and actual == expected


@functools.lru_cache(maxsize=None)
def resolved(name: str) -> Config:
    """The resolved config, read once per session (many rows name it)."""
    return Config.fromfile(osp.join(CONFIGS, name))


@pytest.mark.parametrize('name,row', CASES)
def test_fields(name, row):
    row = ROWS[row]
    cfg = resolved(name)
    wrong = {}
    for path, expected in row['fields'].items():
        actual = lookup(cfg, path)
        if not same(actual, expected):
            wrong[path] = (actual, expected)
    assert not wrong, f'{name} vs {row["source"]}: (ours, official) {wrong}'


def official_name_map():
    """Our backbone parameter names -> the official ones (CrossFormer++-S),
    from the recorded official state dict and our converter's renaming."""
    doc = json.load(gzip.open(
        osp.join(REPO, 'tests', 'data',
                 'crossformer_official_keys.json.gz'), 'rt'))
    mapping = {}
    for key, _ in doc['archs']['pp-s']:
        ours = crossformer_rename_key('backbone.' + key, 'seg')
        if ours is not None:
            mapping[ours] = 'backbone.' + key
    return mapping


def expected_decay(rule: str, name: str, param: torch.Tensor, wd: float,
                   official: dict) -> float:
    if rule == 'every_parameter':
        return wd
    if rule == 'no_1d_or_bias':
        return 0.0 if param.ndim <= 1 or name.endswith('.bias') else wd
    if rule == 'official_norm_name':
        # heads and necks kept their mmseg 0.x names
        official_name = official.get(name, name)
        assert name.startswith('backbone.') == (name in official), name
        return 0.0 if 'norm' in official_name else wd
    raise ValueError(rule)


def decay_of_every_parameter(model, cfg) -> dict:
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    group_of = {}
    for group in wrapper.optimizer.param_groups:
        for p in group['params']:
            group_of[id(p)] = group['weight_decay']
    return {n: group_of[id(p)] for n, p in model.named_parameters()
            if p.requires_grad}


def check_built_model(name: str, cfg, model) -> None:
    """Check the model / optimizer a config builds against every table row
    naming that config: per-block group sizes and intervals of the backbone,
    and the weight decay of every trainable parameter. Called by
    ``test_all_configs.test_config_builds_and_computes_loss``, which builds
    every config once already."""
    for row in ROWS:
        if name not in row['configs']:
            continue
        spec = row.get('backbone')
        if spec is not None:
            bb = model.backbone
            assert [s[0] for s in bb.group_sizes] == spec['group_size'], \
                (name, row['source'])
            assert all(len(set(sizes)) == 1 for sizes in bb.group_sizes)
            assert list(bb.intervals) == spec['interval'], row['source']
            # and every block was built with them
            for stage, g, it in zip(bb.stages, spec['group_size'],
                                    spec['interval']):
                for block in stage.blocks:
                    assert block.attn.group_size == g
                    assert block.attn.interval == it
        decay = row.get('decay')
        if decay is None:
            continue
        official = official_name_map() \
            if decay['rule'] == 'official_norm_name' else {}
        got = decay_of_every_parameter(model, cfg)
        params = dict(model.named_parameters())
        wrong = {}
        for n, wd in got.items():
            expected = expected_decay(decay['rule'], n, params[n],
                                      decay['weight_decay'], official)
            if not math.isclose(wd, expected):
                wrong[n] = (wd, expected)
        assert not wrong, (
            f'{name} vs {row["source"]}: {len(wrong)} parameters with the '
            f'wrong weight decay (ours, official), e.g. '
            f'{dict(list(wrong.items())[:6])}')


def test_every_built_row_is_checked():
    """The rows with model checks all name configs that
    test_all_configs builds (so check_built_model runs for each)."""
    from test_all_configs import ALL
    for row in ROWS:
        if 'backbone' in row or 'decay' in row:
            assert set(row['configs']) <= set(ALL), row['configs']


def test_official_norm_rule_sees_acl_and_dpb():
    """The name rule is not the type rule: ACL norms (official 'ex_ln') and
    DPB norms and biases are decayed; block norms are not."""
    official = official_name_map()
    assert official['backbone.stages.2.blocks.2.acl.norm.weight'] \
        .endswith('ex_ln.weight')
    cfg, model = build('upernet_crossformerpp_s_ade20k.py')
    got = decay_of_every_parameter(model, cfg)
    assert got['backbone.stages.2.blocks.2.acl.norm.weight'] == 0.01
    assert got['backbone.stages.2.blocks.0.attn.dpb.pos1.0.weight'] == 0.01
    assert got['backbone.stages.2.blocks.0.attn.qkv.bias'] == 0.01
    assert got['backbone.stages.2.blocks.0.norm1.weight'] == 0.0


def test_table_names_existing_configs():
    names = {n for n, _ in CASES}
    missing = [n for n in names if not osp.isfile(osp.join(CONFIGS, n))]
    assert not missing
    assert all(r['source'] for r in ROWS)


def _rows_with(name: str, prefix: str) -> list:
    return [r for r in ROWS if name in r['configs']
            and any(p.startswith(prefix) for p in r['fields'])]


# every config of the model zoo (the demo configs change data and schedule
# of one of them; configs/reference and configs/finetune are not recipes)
ZOO = sorted(
    osp.basename(p) for p in glob.glob(osp.join(CONFIGS, '*.py'))
    if not p.endswith('_demo.py'))


@pytest.mark.parametrize('name', ZOO)
def test_every_config_has_drop_path_and_training_pipeline(name):
    """The table is complete: each config's drop path rate and training
    pipeline are checked by some row (official or `official: none`)."""
    assert _rows_with(name, 'model.backbone.drop_path_rate'), name
    assert _rows_with(name, 'train_dataloader.dataset.pipeline.'), name
    assert _rows_with(name, 'train_dataloader.batch_size'), name
    if name.endswith('_in1k.py'):
        for prefix in ('model.train_cfg.augments.', 'model.head.loss.',
                       'train_dataloader.sampler.type'):
            assert _rows_with(name, prefix), (name, prefix)


def test_sources_name_their_origin():
    """Official rows cite an official repository (or the CrossViT paper
    where it overrides the code); `official: none` rows say so first."""
    official = ('cheerss/CrossFormer ', 'IBM/CrossViT ', 'the CrossViT paper')
    for row in ROWS:
        if row.get('official') == 'none':
            assert row['source'].startswith('no official'), row['source']
        else:
            assert 'official' not in row, row
            assert row['source'].startswith(official), row['source']
