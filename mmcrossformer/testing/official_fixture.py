"""Recorded outputs of small official models: the fixture format, and
recording them from clones of the official repositories.

The library behind ``tools/model_converters/record_official_fixture.py``
(its module docstring describes what each fixture holds and how the
weights are kept small) and the reader that
``tests/test_models/test_official_parity.py`` uses (:func:`load_fixture`).
The official code (https://github.com/cheerss/CrossFormer,
https://github.com/IBM/CrossViT) is never part of this project: its model
files are imported from the user's clones while a fixture is recorded
(:func:`load_official_module`).

Each fixture, ``official_fixture_<name>.pth``, is an xz-compressed
``torch.save`` stream of the official state dict (int8 grid codes, see
:func:`encode_tensor`), the input (a seed and a shape, see
:func:`make_input`) and the official outputs in fp32.
"""
import contextlib
import io
import lzma
import math
import os
import os.path as osp
import subprocess
import zlib
from collections import OrderedDict
from typing import Callable, Dict, List, Tuple

import numpy as np
import torch
import torch.nn as nn

from ..utils.official import import_official_file, legacy_openmmlab_names

FORMAT_VERSION = 1
# grid steps per standard deviation of the random weights
CODE_STD = 4.
FIXTURE_PATTERN = 'official_fixture_{}.pth'

CROSSFORMER_REPO = 'https://github.com/cheerss/CrossFormer'
CROSSVIT_REPO = 'https://github.com/IBM/CrossViT'

# What each fixture builds. ``kwargs`` are the official constructor's
# arguments (JSON-like, stored in the fixture); ``extra`` the ones that are
# not (added by the builder).
SPECS: Dict[str, dict] = {
    'crossformerpp_det':
    dict(
        root='official_root',
        repo=CROSSFORMER_REPO,
        file='models/crossformer_backbone_det.py',
        constructor='CrossFormer',
        kwargs=dict(
            img_size=[64, 96],
            patch_size=[4, 8, 16, 32],
            embed_dim=16,
            depths=[4, 2, 2, 1],
            num_heads=[1, 2, 4, 8],
            group_size=[5, 5, 3, 2],
            crs_interval=[2, 2, 1, 1],
            mlp_ratio=2.,
            merge_size=[[2, 4], [2, 4], [2, 4]],
            use_acl=True,
            drop_path_rate=0.,
            init_cfg=None),
        input_shape=[2, 3, 64, 96],
        seed=1,
        weight_seed=11),
    'crossformer_cls':
    dict(
        root='official_root',
        repo=CROSSFORMER_REPO,
        file='models/crossformer.py',
        constructor='CrossFormer',
        kwargs=dict(
            img_size=128,
            patch_size=[4, 8, 16, 32],
            num_classes=10,
            embed_dim=16,
            depths=[2, 2, 2, 1],
            num_heads=[1, 2, 4, 8],
            group_size=[7, 7, 7, 7],
            crs_interval=[8, 4, 2, 1],
            mlp_ratio=[2., 2., 2., 2.],
            merge_size=[[2, 4], [2, 4], [2, 4]],
            use_acl=False,
            drop_path_rate=0.),
        input_shape=[2, 3, 128, 128],
        seed=2,
        weight_seed=12),
    'crossvit':
    dict(
        root='crossvit_root',
        repo=CROSSVIT_REPO,
        file='models/crossvit.py',
        constructor='VisionTransformer',
        kwargs=dict(
            img_size=[120, 112],
            patch_size=[12, 16],
            num_classes=10,
            embed_dim=[16, 32],
            depth=[[1, 2, 0], [1, 2, 0]],
            num_heads=[2, 4],
            mlp_ratio=[2., 3., 1.],
            qkv_bias=True,
            drop_path_rate=0.),
        extra='norm_layer=partial(nn.LayerNorm, eps=1e-6)',
        input_shape=[2, 3, 112, 112],
        seed=3,
        weight_seed=13),
}


# ----------------------------------------------------------------------
# fixture format (also read by the parity test)
def make_input(seed: int, shape: List[int]) -> torch.Tensor:
    """The fixture input of ``seed`` and ``shape``: multiples of 1/64 in
    [-2, 2), from NumPy's legacy ``RandomState`` (whose stream NumPy keeps
    stable across versions); exact in fp32."""
    codes = np.random.RandomState(seed).randint(-128, 128, size=shape)
    return torch.from_numpy(codes.astype(np.float32) / 64.)


def input_crc(x: torch.Tensor) -> int:
    """CRC-32 of the grid codes of an input of :func:`make_input`."""
    codes = (x * 64).round().to(torch.int16).numpy()
    return zlib.crc32(codes.tobytes())


def encode_tensor(value: torch.Tensor) -> dict:
    """Store a tensor of grid values (``base + code * 2**exponent``, int8
    codes) exactly; other tensors are kept as they are.

    Returns:
        dict: ``codes``, ``base``, ``exponent`` for grid tensors, ``raw``
        otherwise.
    """
    if not value.is_floating_point():
        return dict(raw=value.clone())
    value = value.detach().float()
    base = 1. if value.numel() and value.mean().item() > .5 else 0.
    spread = (value - base).abs().max().item()
    if spread == 0:
        return dict(
            codes=torch.zeros(value.shape, dtype=torch.int8),
            base=base,
            exponent=0)
    # the coarsest grid the values lie on (small codes compress best),
    # starting from the finest one that keeps the codes in int8
    exponent = math.ceil(math.log2(spread / 127))
    found = None
    for e in range(exponent, exponent + 24):
        codes = (value - base) / 2.**e
        if not torch.equal(codes, torch.round(codes)):
            break
        found = e
    if found is None:
        return dict(raw=value.clone())
    codes = torch.round((value - base) / 2.**found)
    if not torch.equal(base + codes * 2.**found, value):
        return dict(raw=value.clone())
    return dict(codes=codes.to(torch.int8), base=base, exponent=found)


def decode_tensor(entry: dict) -> torch.Tensor:
    """Inverse of :func:`encode_tensor` (exact)."""
    if 'raw' in entry:
        return entry['raw']
    step = 2.**entry['exponent']
    return entry['base'] + entry['codes'].float() * step


def save_fixture(payload: dict, path: str) -> int:
    """Write ``payload`` as an xz-compressed ``torch.save`` stream; return
    the file size in bytes."""
    buf = io.BytesIO()
    torch.save(payload, buf)
    data = lzma.compress(buf.getvalue(), preset=9 | lzma.PRESET_EXTREME)
    with open(path, 'wb') as f:
        f.write(data)
    return len(data)


def load_fixture(path: str) -> dict:
    """Read a fixture of :func:`save_fixture` (``weights_only`` load) and
    rebuild its state dict and input.

    Returns:
        dict: The stored entries, with ``state_dict`` (OrderedDict of the
        official keys and fp32 tensors) and ``input`` (Tensor) added.

    Raises:
        ValueError: If the file has another format version or the rebuilt
            input does not match the recorded CRC.
    """
    with open(path, 'rb') as f:
        raw = lzma.decompress(f.read())
    fixture = torch.load(io.BytesIO(raw), weights_only=True)
    if fixture.get('format') != FORMAT_VERSION:
        raise ValueError(f'{path}: fixture format {fixture.get("format")}, '
                         f'expected {FORMAT_VERSION}')
    fixture['state_dict'] = OrderedDict(
        (k, decode_tensor(v)) for k, v in fixture['state'].items())
    x = make_input(fixture['input_seed'], fixture['input_shape'])
    if input_crc(x) != fixture['input_crc']:
        raise ValueError(f'{path}: the input rebuilt from seed '
                         f'{fixture["input_seed"]} does not match the '
                         'recorded one')
    fixture['input'] = x
    return fixture


# ----------------------------------------------------------------------
# random grid weights
def randomize_on_grid(model: nn.Module, seed: int) -> None:
    """Give every parameter random values on an int8 grid (see the module
    docstring): weights of Linear / convolution layers with standard
    deviation ``fan_in ** -0.5``, norm weights ``1 +- 0.1``, biases
    ``0 +- 0.1``, other tensors (CLS tokens, position embeddings) 0.5."""
    gen = torch.Generator().manual_seed(seed)
    layer_weights = {
        id(m.weight)
        for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv2d))
    }
    with torch.no_grad():
        for name, param in model.named_parameters():
            if id(param) in layer_weights:
                base, std = 0., param[0].numel()**-0.5
            elif param.dim() == 1:
                base, std = (1. if name.endswith('weight') else 0.), 0.1
            else:
                base, std = 0., 0.5
            step = 2.**round(math.log2(std / CODE_STD))
            codes = torch.round(
                torch.randn(param.shape, generator=gen) * CODE_STD)
            param.copy_(base + codes.clamp(-127, 127) * step)


# ----------------------------------------------------------------------
# importing the official files
@contextlib.contextmanager
def timm_block_with_drop():
    """While the official CrossViT file is imported, let timm's ``Block``
    take its former ``drop`` argument (now ``proj_drop``) and keep its
    ``@register_model`` functions out of timm's registry."""
    import timm.models.registry as registry
    import timm.models.vision_transformer as vit
    original_block, original_register = vit.Block, registry.register_model

    class Block(original_block):

        def __init__(self, *args, drop=0., **kwargs):
            kwargs.setdefault('proj_drop', drop)
            super().__init__(*args, **kwargs)

    vit.Block = Block
    registry.register_model = lambda fn: fn
    try:
        yield
    finally:
        vit.Block = original_block
        registry.register_model = original_register


def load_official_module(spec: dict, root: str):
    """The official model file of a spec, with the shims it needs.

    Raises:
        FileNotFoundError: When the clone at ``root`` lacks the file.
    """
    name = 'official_' + osp.basename(spec['file'])[:-3]
    shims = legacy_openmmlab_names if spec['repo'] == CROSSFORMER_REPO \
        else timm_block_with_drop
    with shims():
        return import_official_file(root, spec['file'], name, spec['repo'])


def git_commit(root: str) -> str:
    """HEAD commit of the clone at ``root`` ('' if it is not a git tree)."""
    try:
        return subprocess.run(['git', '-C', root, 'rev-parse', 'HEAD'],
                              capture_output=True,
                              text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ''


# ----------------------------------------------------------------------
# running the official models
def _run_crossformer_det(model: nn.Module, x: torch.Tensor):
    """Names and tensors of the dense backbone's four feature maps."""
    outs = model(x)
    return [f'stage{i}' for i in range(len(outs))], list(outs)


def _run_crossformer_cls(model: nn.Module, x: torch.Tensor):
    """Names and tensors of the classifier's pooled features (after the
    final norm) and logits."""
    feats = model.forward_features(x)
    return ['features', 'logits'], [feats, model.head(feats)]


def _run_crossvit(model: nn.Module, x: torch.Tensor):
    """Names and tensors of both branches' tokens after each multi-scale
    encoder (before the final norms), the normalised CLS tokens and the
    logits (mean of the branches' heads)."""
    tokens: List[torch.Tensor] = []
    names: List[str] = []
    hooks = []
    for k, block in enumerate(model.blocks):

        def hook(module, args, out, k=k):
            for b, t in enumerate(out):
                names.append(f'encoder{k}.branch{b}')
                tokens.append(t.clone())

        hooks.append(block.register_forward_hook(hook))
    try:
        cls_tokens = model.forward_features(x)
    finally:
        for h in hooks:
            h.remove()
    logits = torch.stack([head(t)
                          for head, t in zip(model.head, cls_tokens)]).mean(0)
    names += [f'cls{b}' for b in range(len(cls_tokens))] + ['logits']
    return names, tokens + list(cls_tokens) + [logits]


RUNNERS: Dict[str, Callable] = dict(
    crossformerpp_det=_run_crossformer_det,
    crossformer_cls=_run_crossformer_cls,
    crossvit=_run_crossvit)


def build_official(spec: dict, module) -> nn.Module:
    """The official model of a spec, random grid weights, eval mode."""
    kwargs = dict(spec['kwargs'])
    if spec['repo'] == CROSSVIT_REPO:
        from functools import partial
        kwargs['norm_layer'] = partial(nn.LayerNorm, eps=1e-6)
    torch.manual_seed(0)  # the constructors draw their own init first
    model = getattr(module, spec['constructor'])(**kwargs)
    randomize_on_grid(model, spec['weight_seed'])
    return model.eval()


def record(name: str, root: str, out_dir: str) -> Tuple[str, int, dict]:
    """Build, run and store one fixture.

    Returns:
        tuple: The path, its size in bytes and a summary
        (``{output name: (shape, max |value|)}``).
    """
    spec = SPECS[name]
    module = load_official_module(spec, root)
    model = build_official(spec, module)
    x = make_input(spec['seed'], spec['input_shape'])
    with torch.no_grad():
        names, outputs = RUNNERS[name](model, x)
    state = OrderedDict(
        (k, encode_tensor(v)) for k, v in model.state_dict().items())
    payload = dict(
        format=FORMAT_VERSION,
        name=name,
        official=dict(
            repo=spec['repo'],
            commit=git_commit(root),
            file=spec['file'],
            constructor=spec['constructor'],
            kwargs=spec['kwargs'],
            extra=spec.get('extra', '')),
        torch_version=str(torch.__version__),
        state=state,
        input_seed=spec['seed'],
        input_shape=list(spec['input_shape']),
        input_crc=input_crc(x),
        output_names=names,
        outputs=[o.detach().float().contiguous() for o in outputs])
    os.makedirs(out_dir, exist_ok=True)
    path = osp.join(out_dir, FIXTURE_PATTERN.format(name))
    size = save_fixture(payload, path)
    summary = {
        n: (tuple(o.shape), float(o.abs().max()))
        for n, o in zip(names, outputs)
    }
    return path, size, summary


#: official classification configs whose state-dict keys are recorded
#: (``--keys``), by our short arch name
KEY_CONFIGS = {
    't': 'configs/crossformer/tiny_patch4_group7_224.yaml',
    's': 'configs/crossformer/small_patch4_group7_224.yaml',
    'b': 'configs/crossformer/base_patch4_group7_224.yaml',
    'l': 'configs/crossformer/large_patch4_group7_224.yaml',
    'pp-s': 'configs/crossformer_pp/small_patch4_group_const_224.yaml',
    'pp-b': 'configs/crossformer_pp/base_patch4_group_const_224.yaml',
    'pp-l': 'configs/crossformer_pp/large_patch4_group_const_224.yaml',
    'pp-h': 'configs/crossformer_pp/huge_patch4_group_const_224.yaml',
}
KEYS_FILE = 'crossformer_official_keys.json.gz'


def record_keys(root: str, out_dir: str) -> str:
    """Record the state-dict keys and shapes of the official ImageNet
    classifiers (``models/crossformer.py``, the ``MODEL.CROS`` settings of
    each yaml of :data:`KEY_CONFIGS` over ``config.py``'s defaults: the
    ``use_acl`` default is True, the v1 yamls switch it off) and of the
    official detection backbone (``models/crossformer_backbone_det.py``)
    for S and ++S, into ``<out_dir>/crossformer_official_keys.json.gz``.

    Returns:
        str: The path written.
    """
    import gzip
    import json

    import yaml
    cls_module = load_official_module(SPECS['crossformer_cls'], root)
    det_module = load_official_module(SPECS['crossformerpp_det'], root)
    archs = {}
    for name, yaml_file in KEY_CONFIGS.items():
        with open(osp.join(root, yaml_file)) as f:
            cros = yaml.safe_load(f)['MODEL']['CROS']
        kwargs = dict(
            embed_dim=cros['EMBED_DIM'],
            depths=cros['DEPTHS'],
            num_heads=cros['NUM_HEADS'],
            group_size=cros.get('GROUP_SIZE', [7, 7, 7, 7]),
            crs_interval=cros.get('INTERVAL', [8, 4, 2, 1]),
            patch_size=cros.get('PATCH_SIZE', [4, 8, 16, 32]),
            merge_size=cros.get('MERGE_SIZE', [[2, 4], [2, 4], [2, 4]]),
            use_acl=cros.get('USE_ACL', True))
        model = cls_module.CrossFormer(
            img_size=224,
            num_classes=1000,
            mlp_ratio=cros.get('MLP_RATIO', [4.] * 4),
            **kwargs)
        archs[name] = [[k, list(v.shape)]
                       for k, v in model.state_dict().items()]
        if name in ('s', 'pp-s'):
            kwargs.update(group_size=[7, 7, 7, 7], crs_interval=[8, 4, 2, 1])
            det = det_module.CrossFormer(
                img_size=[800, 1216], mlp_ratio=4., init_cfg=None, **kwargs)
            archs['det-' + name] = [[k, list(v.shape)]
                                    for k, v in det.state_dict().items()]
        print(f'{name}: {len(archs[name])} keys')
    doc = dict(
        source=f'{CROSSFORMER_REPO} models/crossformer.py CrossFormer '
        f'(configs/crossformer*/*.yaml) and '
        f'models/crossformer_backbone_det.py CrossFormer (det-*)',
        commit=git_commit(root),
        archs=archs)
    os.makedirs(out_dir, exist_ok=True)
    path = osp.join(out_dir, KEYS_FILE)
    with gzip.open(path, 'wt') as f:
        json.dump(doc, f)
    return path


__all__ = [
    'FORMAT_VERSION', 'CODE_STD', 'FIXTURE_PATTERN', 'CROSSFORMER_REPO',
    'CROSSVIT_REPO', 'SPECS', 'make_input', 'input_crc', 'encode_tensor',
    'decode_tensor', 'save_fixture', 'load_fixture', 'randomize_on_grid',
    'timm_block_with_drop', 'load_official_module', 'git_commit', 'RUNNERS',
    'build_official', 'record', 'KEY_CONFIGS', 'KEYS_FILE', 'record_keys'
]
