"""Exact resume: the random-number streams of a run travel in its checkpoints.

With a fixed seed, mmengine makes a training run reproducible from its start,
but ``--resume`` restarts every random stream: the resumed process seeds
torch / numpy / ``random`` again (so drop path, anchor sampling, ... draw
other numbers than the uninterrupted run), and data-loader workers started by
the resumed run begin again at mmengine's worker seed
(``seed + num_workers * rank + worker_id``), while the uninterrupted run's
persistent workers continue where the previous epoch stopped (random flips
and crops differ). Measured on ``configs/retinanet_crossformerpp_s_coco.py``
(drop path 0.2, flips on): 2 epochs straight and 1 epoch + ``--resume`` + 1
epoch differed by up to 2e-6 in the weights.

:class:`RandomStateHook` saves the states in every checkpoint and restores
them on resume, so that a resumed run continues the same streams.
"""
import random
from functools import partial
from typing import Callable, Dict, Optional

import numpy as np
import torch
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.runner import EpochBasedTrainLoop
from torch.utils.data import get_worker_info

from mmcrossformer.registry import HOOKS

#: checkpoint key of the states (RandomStateHook.before_save_checkpoint)
CHECKPOINT_KEY = 'random_states'
# key under which a data-loader worker reports its states with each batch
_REPORT_KEY = '_mmcrossformer_worker_random_states'


def capture_random_states() -> dict:
    """The global random states of this process as plain containers.

    Returns:
        dict: ``torch`` (uint8 tensor), ``numpy`` (dict of the MT19937 key as
        an int64 tensor of shape (624,), ``pos``, ``has_gauss``,
        ``cached_gaussian``), ``python`` (dict of ``version``, ``internal``
        list of 625 ints, ``gauss_next``) and, when CUDA has been initialised,
        ``cuda`` (one uint8 tensor per device). Only tensors, numbers and
        lists, so a checkpoint holding them loads with ``weights_only=True``.
    """
    name, keys, pos, has_gauss, cached = np.random.get_state()
    version, internal, gauss_next = random.getstate()
    states = dict(
        torch=torch.get_rng_state(),
        numpy=dict(
            keys=torch.from_numpy(keys.astype(np.int64)),
            pos=int(pos),
            has_gauss=int(has_gauss),
            cached_gaussian=float(cached)),
        python=dict(
            version=version, internal=list(internal), gauss_next=gauss_next))
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        states['cuda'] = torch.cuda.get_rng_state_all()
    return states


def restore_random_states(states: dict) -> list:
    """Set this process's global random states from
    :func:`capture_random_states`.

    Returns:
        list[str]: the generators restored. ``cuda`` is skipped (and not
        listed) when CUDA is absent or the device count differs.

    Raises:
        ValueError: If ``states`` lacks ``torch``, ``numpy`` or ``python``.
    """
    missing = [k for k in ('torch', 'numpy', 'python') if k not in states]
    if missing:
        raise ValueError(f'random states lack {missing}; got keys '
                         f'{sorted(states)}')
    torch.set_rng_state(states['torch'])
    npy = states['numpy']
    np.random.set_state(('MT19937', npy['keys'].numpy().astype(np.uint32),
                         npy['pos'], npy['has_gauss'],
                         npy['cached_gaussian']))
    py = states['python']
    random.setstate((py['version'], tuple(py['internal']), py['gauss_next']))
    restored = ['torch', 'numpy', 'random']
    cuda = states.get('cuda')
    if (cuda is not None and torch.cuda.is_available()
            and len(cuda) == torch.cuda.device_count()):
        torch.cuda.set_rng_state_all(cuda)
        restored.append('cuda')
    return restored


class _ReportingCollate:
    """Collate function of a data-loader worker that adds the worker's random
    states, taken after the batch was made, to the (dict) batch."""

    def __init__(self, collate_fn: Callable):
        self.collate_fn = collate_fn

    def __call__(self, samples):
        batch = self.collate_fn(samples)
        info = get_worker_info()
        if info is not None and isinstance(batch, dict):
            batch[_REPORT_KEY] = (info.id, capture_random_states())
        return batch


def _init_worker(worker_id: int, init_fn: Optional[Callable],
                 states: Dict[int, dict]) -> None:
    """``worker_init_fn``: the original one, then the saved states."""
    if init_fn is not None:
        init_fn(worker_id)
    if worker_id in states:
        restore_random_states(states[worker_id])


@HOOKS.register_module()
class RandomStateHook(Hook):
    """Save the random-number states in every checkpoint and restore them on
    ``--resume``, so that a resumed run repeats an uninterrupted one bit for
    bit (given ``randomness=dict(seed=..., deterministic=True)``).

    What is saved (``checkpoint['random_states']``, rank 0's, see
    :func:`capture_random_states`):

    - ``main``: the training process's torch, numpy, ``random`` (and CUDA)
      states at the save, i.e. at the end of the epoch (or iteration).
    - ``workers``: with persistent data-loader workers in an epoch-based
      loop, each worker's states after the last batch it made. Workers
      report them with every batch (a wrapper of the loader's collate
      function adds them; this hook removes them from the batch in
      ``before_train_iter``). Non-persistent workers need nothing: they are
      started and seeded afresh each epoch in both runs.

    On resume the main states are set right before the resumed run draws its
    first number: in ``before_train_epoch``, or, when the resumed run starts
    persistent workers (which draws a base seed from torch's global
    generator; the uninterrupted run reuses its workers and draws none),
    in the first ``before_train_iter``. The workers receive their states in
    ``worker_init_fn`` after mmengine's seeding. For an
    ``IterBasedTrainLoop`` mmengine replays the skipped batches through new
    workers (their streams repeat by themselves), so only the main states
    are set, in the first ``before_train_iter``.

    Validation (``before_val`` ... ``after_val``) leaves the training streams
    untouched: starting the validation loader draws from torch's generator,
    which would otherwise make the next training epoch differ between a run
    that validated and one resumed after the validation.

    A checkpoint without states (saved before this hook existed) still
    resumes; a warning says the streams restart from the seed. Not covered:
    ranks other than 0 in distributed training (only rank 0 saves; others
    warn and restart), resuming an epoch-based run from a mid-epoch
    checkpoint (mmengine restarts that epoch's data), and an
    ``IterBasedTrainLoop`` loading data in the main process
    (``num_workers=0``).
    """

    priority = 'LOWEST'  # restore after every other before_train_epoch hook

    def __init__(self):
        self._loaded = None  # states of the checkpoint last loaded
        self._resume_states = None  # to apply in the resumed run
        self._pending_main = None  # main states for the next before_train_iter
        self._original_init_fn = None
        self._init_fn_replaced = False
        self._collecting = False
        self._worker_states: Dict[int, dict] = {}
        self._val_snapshot = None

    # -- saving -------------------------------------------------------------
    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        # inside validation the streams are those from before it
        main = (self._val_snapshot if self._val_snapshot is not None else
                capture_random_states())
        # the iteration the checkpoint resumes at (mmengine's meta: the
        # current one after an epoch, the next one after an iteration)
        checkpoint[CHECKPOINT_KEY] = dict(
            rank=get_rank(),
            iter=checkpoint.get('meta', {}).get('iter', runner.iter),
            main=main,
            workers=dict(self._worker_states) if self._collecting else None)

    # -- loading ------------------------------------------------------------
    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        self._loaded = checkpoint.get(CHECKPOINT_KEY)

    def before_train(self, runner) -> None:
        loop = runner.train_loop
        loader = loop.dataloader
        self._by_epoch = isinstance(loop, EpochBasedTrainLoop)
        self._persistent = (loader.num_workers > 0
                            and loader.persistent_workers)
        self._collecting = self._by_epoch and self._persistent
        if self._collecting:
            loader.collate_fn = _ReportingCollate(loader.collate_fn)
        states, self._loaded = self._loaded, None
        if runner.iter == 0:  # a new run (load_from or from scratch)
            return
        if states is None:
            runner.logger.warning(
                f'RandomStateHook: the checkpoint resumed at iteration '
                f'{runner.iter} holds no random states (saved without this '
                f'hook): the random streams restart from the seed, so this '
                f'run will not repeat an uninterrupted one bit for bit')
        elif states['iter'] != runner.iter or states['rank'] != get_rank():
            runner.logger.warning(
                f'RandomStateHook: the checkpoint holds the random states of '
                f'rank {states["rank"]} at iteration {states["iter"]}, not of '
                f'rank {get_rank()} at iteration {runner.iter}: the random '
                f'streams restart from the seed')
        else:
            self._resume_states = states

    def before_train_epoch(self, runner) -> None:
        states, self._resume_states = self._resume_states, None
        if states is None:
            return
        parts = []
        if self._collecting:
            workers = states.get('workers')
            if workers is None:
                runner.logger.warning(
                    'RandomStateHook: the checkpoint holds no data-loader '
                    'worker states: the workers\' random streams restart '
                    'from the seed')
            else:
                loader = runner.train_loop.dataloader
                self._original_init_fn = loader.worker_init_fn
                self._init_fn_replaced = True
                loader.worker_init_fn = partial(_init_worker,
                                                init_fn=loader.worker_init_fn,
                                                states=workers)
                self._worker_states = dict(workers)
                parts.append(f'{len(workers)} data-loader worker(s)')
        if self._by_epoch and not self._persistent:
            parts = restore_random_states(states['main']) + parts
        else:
            self._pending_main = states['main']
            parts.append('main process at the first iteration')
        runner.logger.info(f'RandomStateHook: restored the random states '
                           f'saved at iteration {runner.iter}: '
                           f'{", ".join(parts)}')

    def before_train_iter(self, runner, batch_idx: int,
                          data_batch=None) -> None:
        if self._collecting and isinstance(data_batch, dict):
            report = data_batch.pop(_REPORT_KEY, None)
            if report is not None:
                self._worker_states[report[0]] = report[1]
        if self._pending_main is not None:
            restore_random_states(self._pending_main)
            self._pending_main = None
            if self._init_fn_replaced:
                runner.train_loop.dataloader.worker_init_fn = (
                    self._original_init_fn)
                self._init_fn_replaced = False

    # -- validation leaves the training streams as they were -----------------
    def before_val(self, runner) -> None:
        self._val_snapshot = capture_random_states()

    def after_val(self, runner) -> None:
        if self._val_snapshot is not None:
            restore_random_states(self._val_snapshot)
            self._val_snapshot = None
