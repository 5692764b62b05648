"""Checkpoint files are data: load them without running code from them.

PyTorch >= 2.6 loads with ``weights_only=True`` by default: a pickle may
only rebuild tensors, plain containers and numbers, so a downloaded file
cannot run code on the machine that loads it. A training checkpoint written
by mmengine also holds its message hub (``HistoryBuffer`` objects holding
numpy arrays, numpy scalars) and, with our hooks, plain random states; the
official training checkpoints hold their training configuration (rebuilt as
plain data by stand-in classes, :class:`RecordedConfig`). These few exact
types are allow-listed here (:data:`CHECKPOINT_SAFE_GLOBALS`) for the
duration of the load only, rather than unpickling in full or widening
torch's allow-list for the whole process.

Every file goes through that check, wherever it lies (a directory holding
a ``last_checkpoint`` file proves nothing: any downloaded archive can carry
one). The one exception is a file the user resumes explicitly
(``tools/train.py --resume [FILE]``), registered with :func:`trust_file`:
it is unpickled in full, as mmengine does.

Importing :mod:`mmcrossformer` installs :func:`load_local_checkpoint` and
:func:`load_http_checkpoint` as mmengine's loaders of local paths and
``http(s)://`` URLs (``CheckpointLoader``), so ``load_from``, ``init_cfg``
``Pretrained`` checkpoints, ``tools/test.py``, ``tools/image_demo.py`` and
``mmcrossformer.apis.init_model`` all load through them.
"""
import os
import os.path as osp
import pickle
from typing import Callable, List, Optional, Set, Union

import torch
from mmengine.dist import get_dist_info
from mmengine.runner.checkpoint import CheckpointLoader

MapLocation = Optional[Union[str, torch.device, Callable]]

_TRUSTED_FILES: Set[str] = set()


class RecordedConfig(dict):
    """Stand-in for the training configuration that the official
    checkpoints carry beside their weights (cheerss/CrossFormer: a yacs
    ``CfgNode`` under ``'config'``; IBM/CrossViT: an ``argparse.Namespace``
    under ``'args'``). The unpickler rebuilds it as plain data (a dict of
    its entries, attributes in ``__dict__``) without importing or running
    the original class."""


class RecordedNamespace:
    """Stand-in for an ``argparse.Namespace`` in a checkpoint: only its
    attributes are restored (see :class:`RecordedConfig`)."""


def history_buffer_method(obj: object, name: str) -> object:
    """Stand-in for ``builtins.getattr`` while a checkpoint loads.

    mmengine's ``HistoryBuffer`` keeps its statistics methods (``min``,
    ``mean``, ...) in ``_statistics_methods``; such a function pickles as
    ``getattr(HistoryBuffer, 'min')``. Allowing ``getattr`` itself would
    let a file reach any attribute of any object it can build; this returns
    only a public method of ``HistoryBuffer`` (the class or an instance).

    Raises:
        pickle.UnpicklingError: For any other object or attribute.
    """
    from mmengine.logging import HistoryBuffer
    if (obj is HistoryBuffer or isinstance(obj, HistoryBuffer)) and \
            not name.startswith('_') and \
            callable(getattr(HistoryBuffer, name, None)):
        return getattr(obj, name)
    raise pickle.UnpicklingError(
        f'getattr({getattr(obj, "__name__", type(obj).__name__)}, '
        f'{name!r}) is not part of a '
        f'checkpoint (only the public methods of mmengine\'s HistoryBuffer '
        f'are)')


#: Official training configurations, read as plain data, and the bound
#: methods of mmengine's message hub (see above).
_STAND_INS = [(RecordedConfig, 'yacs.config.CfgNode'),
              (RecordedNamespace, 'argparse.Namespace'),
              (history_buffer_method, 'builtins.getattr')]


def _safe_globals() -> List[object]:
    """The exact non-tensor types mmengine 0.10 writes into a checkpoint:
    ``HistoryBuffer`` (message hub) and what numpy arrays, dtypes and
    scalars reduce to in pickles of numpy 1.x and 2.x."""
    import numpy as np
    from mmengine.logging import HistoryBuffer
    found = [HistoryBuffer, np.ndarray, np.dtype, *_STAND_INS]
    for module in ('numpy.core.multiarray', 'numpy._core.multiarray'):
        try:
            multiarray = __import__(module, fromlist=['_reconstruct'])
        except ImportError:
            continue
        found += [multiarray._reconstruct, multiarray.scalar]
    # numpy >= 1.25 may pickle a dtype as its class (numpy.dtypes.*DType)
    dtypes = getattr(np, 'dtypes', None)
    if dtypes is not None:
        found += [
            getattr(dtypes, name) for name in dir(dtypes)
            if name.endswith('DType')
        ]
    return found


#: Types allow-listed while a checkpoint loads (see the module docstring).
CHECKPOINT_SAFE_GLOBALS: List[object] = _safe_globals()


def trust_file(filename: str) -> None:
    """Unpickle ``filename`` in full when it is loaded (an explicit resume).

    Args:
        filename (str): A local checkpoint the user named (or that
            ``--resume`` without a file picks from the work_dir).
    """
    _TRUSTED_FILES.add(osp.realpath(osp.expanduser(filename)))


def is_trusted(filename: str) -> bool:
    """Whether ``filename`` was registered with :func:`trust_file`."""
    return osp.realpath(osp.expanduser(filename)) in _TRUSTED_FILES


def safe_load(filename: str, map_location: MapLocation = None,
              source: Optional[str] = None) -> object:
    """``torch.load`` of a checkpoint file that runs no code from it.

    Args:
        filename (str): Local file.
        map_location: As :func:`torch.load`. Defaults to None.
        source (str, optional): How to name the file in errors (a URL it
            was downloaded from). Defaults to ``filename``.

    Returns:
        object: What the file holds (usually a dict).

    Raises:
        pickle.UnpicklingError: If the file holds other objects than
            tensors, plain containers, numbers and
            :data:`CHECKPOINT_SAFE_GLOBALS`; the message names the file and
            the object it refused.
    """
    source = source or filename
    if is_trusted(filename):
        return torch.load(
            filename, map_location=map_location, weights_only=False)
    try:
        with torch.serialization.safe_globals(CHECKPOINT_SAFE_GLOBALS):
            return torch.load(
                filename, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        lines = str(err).strip().splitlines()
        said = [ln.strip() for ln in lines if 'Unpickler error' in ln] \
            or lines[:1] or [str(err)]
        raise pickle.UnpicklingError(
            f'{source} holds other objects than weights and the types '
            f'mmengine writes into a checkpoint, so it is not loaded (a '
            f'checkpoint is data: unpickling it in full could run code from '
            f'it). Keep only its state_dict, e.g. with tools/model_converters;'
            f' a checkpoint of your own can be resumed with tools/train.py '
            f'--resume FILE. torch.load said: {said[0]}') from err


def load_local_checkpoint(filename: str,
                          map_location: MapLocation = None) -> object:
    """mmengine loader of local paths (see :func:`safe_load`).

    Raises:
        FileNotFoundError: If ``filename`` does not exist.
        pickle.UnpicklingError: As :func:`safe_load`.
    """
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'checkpoint {filename} does not exist')
    return safe_load(filename, map_location)


def download_checkpoint(url: str, model_dir: Optional[str] = None) -> str:
    """The local copy of ``url``, downloaded once into ``model_dir``
    (default: torch hub's ``checkpoints`` folder, as mmengine's loader).

    In a distributed run rank 0 downloads first; the others wait at a
    barrier and then read the same file.

    Returns:
        str: The path of the downloaded file.
    """
    from urllib.parse import urlparse

    from torch.hub import download_url_to_file, get_dir
    model_dir = model_dir or osp.join(get_dir(), 'checkpoints')
    cached = osp.join(model_dir, osp.basename(urlparse(url).path))
    rank, world_size = get_dist_info()

    def fetch():
        if not osp.isfile(cached):
            os.makedirs(model_dir, exist_ok=True)
            download_url_to_file(url, cached, progress=False)

    if rank == 0:
        fetch()
    if world_size > 1:
        torch.distributed.barrier()
        if rank > 0:
            fetch()
    return cached


def load_http_checkpoint(url: str,
                         map_location: MapLocation = None,
                         model_dir: Optional[str] = None) -> object:
    """mmengine loader of ``http(s)://`` URLs: :func:`download_checkpoint`
    then :func:`safe_load` (the IBM/CrossViT releases are direct URLs).

    Raises:
        pickle.UnpicklingError: As :func:`safe_load`.
        urllib.error.URLError: If the download fails.
    """
    return safe_load(
        download_checkpoint(url, model_dir), map_location, source=url)


def install_loaders() -> None:
    """Make mmengine load local paths and URLs with the loaders above."""
    CheckpointLoader.register_scheme(
        prefixes='', loader=load_local_checkpoint, force=True)
    CheckpointLoader.register_scheme(
        prefixes=('http://', 'https://'),
        loader=load_http_checkpoint,
        force=True)


install_loaders()

__all__ = [
    'CHECKPOINT_SAFE_GLOBALS', 'trust_file', 'is_trusted', 'safe_load',
    'load_local_checkpoint', 'download_checkpoint', 'load_http_checkpoint',
    'install_loaders'
]
