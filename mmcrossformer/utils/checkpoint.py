"""Checkpoint loading that trusts files by where they come from.

PyTorch >= 2.6 loads with ``weights_only=True`` by default, and mmengine
0.10.7 does not pass the flag. That is right for downloaded weights, but a
training checkpoint written by mmengine also holds its message hub (numpy
arrays and scalars, ``HistoryBuffer``), whose unpickling needs objects such
as ``builtins.getattr``; allow-listing those globally would defeat the check.

So a local file is unpickled in full (``weights_only=False``) only when it
comes from a training run: it lies inside a directory registered with
:func:`trust_work_dir` (the current run's ``work_dir``), or inside a
directory that mmengine's CheckpointHook marked as a work_dir (it holds a
``last_checkpoint`` file). Everything else is loaded with
``weights_only=True``.
"""
import os.path as osp
import pickle
from typing import List, Optional

import torch
from mmengine.runner.checkpoint import CheckpointLoader

_TRUSTED_DIRS: List[str] = []


def trust_work_dir(work_dir: str) -> None:
    """Trust checkpoints under ``work_dir`` and install the local loader."""
    real = osp.realpath(work_dir)
    if real not in _TRUSTED_DIRS:
        _TRUSTED_DIRS.append(real)
    CheckpointLoader.register_scheme(
        prefixes='', loader=load_local_checkpoint, force=True)


def is_trusted(filename: str) -> bool:
    """Whether ``filename`` was written by a training run (see module doc)."""
    path = osp.realpath(filename)
    for directory in _TRUSTED_DIRS:
        if osp.commonpath([path, directory]) == directory:
            return True
    return osp.isfile(osp.join(osp.dirname(path), 'last_checkpoint'))


def load_local_checkpoint(filename: str,
                          map_location: Optional[str] = None) -> dict:
    """mmengine loader for local paths, trusting by source.

    Raises:
        FileNotFoundError: If ``filename`` does not exist.
        pickle.UnpicklingError: If an untrusted file holds more than
            tensors and plain containers; the message says why.
    """
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'checkpoint {filename} does not exist')
    trusted = is_trusted(filename)
    try:
        return torch.load(
            filename, map_location=map_location, weights_only=not trusted)
    except pickle.UnpicklingError as err:
        raise pickle.UnpicklingError(
            f'{filename} is not inside a training work_dir, so it is loaded '
            f'with torch.load(weights_only=True), and it contains other '
            f'objects than weights. Keep only its state_dict (e.g. with '
            f'tools/model_converters) or, if you wrote it yourself, load it '
            f'from its work_dir. Original error: {err}') from err


__all__ = ['trust_work_dir', 'is_trusted', 'load_local_checkpoint']
