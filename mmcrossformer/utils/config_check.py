"""Checks of a config before anything is built or trained."""
import os.path as osp
from typing import List, Optional


def _backbone_channels(backbone: dict) -> Optional[List[int]]:
    """Output channels of a CrossFormer backbone config, from the class's
    public ``stage_channels`` (looked up in the registry, so this module
    imports no model); None for other backbones."""
    from mmcrossformer.registry import MODELS
    name = backbone.get('type')
    if name not in ('mmcrossformer.CrossFormer', 'CrossFormer'):
        return None
    cls = MODELS.get('CrossFormer')
    if cls is None:  # mmcrossformer.models not imported: nothing to check
        return None
    return cls.stage_channels(
        backbone.get('arch', 'pp-s'), backbone.get('out_indices',
                                                   (0, 1, 2, 3)))


def check_in_channels(model: dict) -> None:
    """Check that the neck / heads take the backbone's output channels.

    Covers CrossFormer backbones followed by an mmdet / mmseg neck
    (``neck.in_channels``), an mmseg decode / auxiliary head without neck
    (``in_channels`` with ``in_index``) or an mmpretrain head after global
    pooling (``head.in_channels``).

    Raises:
        ValueError: Saying which numbers differ.
    """
    outs = _backbone_channels(model.get('backbone') or {})
    if outs is None:
        return

    def fail(where, got, want):
        raise ValueError(
            f'{where} = {got} does not match the backbone\'s output '
            f'channels {want} (arch {model["backbone"].get("arch")!r}, '
            f'out_indices {model["backbone"].get("out_indices")})')

    neck = model.get('neck')
    if isinstance(neck, (list, tuple)):
        neck = neck[0] if neck else None
    if neck and 'in_channels' in neck:
        if list(neck['in_channels']) != outs:
            fail('model.neck.in_channels', list(neck['in_channels']), outs)
        return
    for name in ('decode_head', 'auxiliary_head'):
        head = model.get(name)
        if not isinstance(head, dict) or 'in_channels' not in head or neck:
            continue
        index = head.get('in_index', -1)
        want = [outs[i] for i in index] if isinstance(index,
                                                      (list,
                                                       tuple)) else outs[index]
        got = head['in_channels']
        got = list(got) if isinstance(got, (list, tuple)) else got
        if got != want:
            fail(f'model.{name}.in_channels', got, want)
    head = model.get('head')
    if isinstance(head, dict) and 'in_channels' in head and \
            head['in_channels'] != outs[-1]:
        fail('model.head.in_channels', head['in_channels'], outs[-1])


def check_data_roots(cfg, loaders=('train_dataloader', 'val_dataloader',
                                   'test_dataloader')) -> None:
    """Check that every dataloader's ``dataset.data_root`` exists.

    Raises:
        FileNotFoundError: With the missing path and where it was set.
    """
    for name in loaders:
        loader = cfg.get(name)
        dataset = loader.get('dataset') if loader else None
        root = dataset.get('data_root') if dataset else None
        if root and not osp.isdir(root):
            raise FileNotFoundError(
                f'{name}.dataset.data_root {root!r} does not exist; put the '
                f'dataset there or set it with --cfg-options '
                f'{name}.dataset.data_root=PATH')
