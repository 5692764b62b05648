"""Process-wide runtime settings used by the tools."""
import os
from typing import Optional

import torch


def flush_denormals_on_cpu() -> bool:
    """Flush denormal floats to zero when running without CUDA.

    On x86 CPUs, arithmetic on denormal numbers is many times slower than on
    normal ones, and trained detection heads produce many of them
    (measurements: docs/en/reliability.md). GPUs flush in most kernels.

    Returns:
        bool: Whether flushing was switched on (False with CUDA, or where
        the CPU does not support it).
    """
    if torch.cuda.is_available():
        return False
    return bool(torch.set_flush_denormal(True))


def setup_amp(cfg, dtype: Optional[str] = None) -> None:
    """Switch ``cfg.optim_wrapper`` to mixed precision (``--amp``).

    * CUDA: mmengine's ``AmpOptimWrapper`` (autocast, dynamic loss scaling
      unless the config sets ``loss_scale``); ``dtype`` is passed on when
      given, float16 otherwise.
    * CPU, where that wrapper refuses to run:
      ``mmcrossformer.CPUAutocastOptimWrapper``. ``dtype`` None or
      ``'bfloat16'``: bf16 autocast, no loss scaling (any ``loss_scale`` of
      the config is dropped). ``'float16'``: fp16 autocast with the
      config's ``loss_scale``, dynamic by default, i.e. the code paths of a
      CUDA AMP run (``docs/en/mixed_precision.md``).

    Args:
        cfg (mmengine.Config): The config; ``optim_wrapper`` is changed in
            place.
        dtype (str, optional): ``'float16'``, ``'bfloat16'`` or None (the
            device's default above). Defaults to None.

    Raises:
        ValueError: For another ``dtype``.
    """
    if dtype not in (None, 'float16', 'bfloat16'):
        raise ValueError(f"AMP dtype must be 'float16' or 'bfloat16', got "
                         f'{dtype!r}')
    wrapper = cfg.optim_wrapper
    if torch.cuda.is_available():
        if wrapper.get('type', 'OptimWrapper') != 'AmpOptimWrapper':
            wrapper.type = 'AmpOptimWrapper'
            wrapper.setdefault('loss_scale', 'dynamic')
        if dtype is not None:
            wrapper.dtype = dtype
        return
    wrapper.type = 'mmcrossformer.CPUAutocastOptimWrapper'
    if dtype == 'float16':
        wrapper.setdefault('loss_scale', 'dynamic')
    else:
        wrapper.pop('loss_scale', None)
    wrapper.dtype = dtype or 'bfloat16'


def slurm_to_torch_env() -> None:
    """Set torch's rendezvous variables from Slurm's, as mmengine's
    ``init_dist('slurm')`` does before it calls CUDA.

    ``RANK`` = ``SLURM_PROCID``, ``WORLD_SIZE`` = ``SLURM_NTASKS``,
    ``LOCAL_RANK`` = ``SLURM_LOCALID``; ``MASTER_ADDR`` (unless set) is the
    first host of ``SLURM_NODELIST`` (``scontrol show hostname``);
    ``MASTER_PORT`` (unless set) is 29500. Variables already set are kept.

    Raises:
        RuntimeError: If ``SLURM_PROCID`` or ``SLURM_NTASKS`` is not set
            (the tool was not started by ``srun``).
    """
    import subprocess
    missing = [k for k in ('SLURM_PROCID', 'SLURM_NTASKS')
               if k not in os.environ]
    if missing:
        raise RuntimeError(f'--launcher slurm: {missing} not set in the '
                           'environment; start the tool with srun '
                           '(tools/slurm_train.sh)')
    os.environ['RANK'] = os.environ['SLURM_PROCID']
    os.environ['WORLD_SIZE'] = os.environ['SLURM_NTASKS']
    os.environ['LOCAL_RANK'] = os.environ.get('SLURM_LOCALID', '0')
    os.environ.setdefault('MASTER_PORT', '29500')
    if 'MASTER_ADDR' not in os.environ:
        nodes = os.environ.get('SLURM_NODELIST', '')
        os.environ['MASTER_ADDR'] = subprocess.getoutput(
            f'scontrol show hostname {nodes} | head -n1').strip()


def setup_cpu_distributed(cfg):
    """Data parallel on CPU (gloo) through mmengine 0.10.7's Runner; a no-op
    with CUDA (nccl through mmengine as usual).

    mmengine's ``init_dist`` calls ``torch.cuda.set_device`` and its DDP
    wrapper passes ``device_ids=[LOCAL_RANK]``; both fail without CUDA. The
    process group is therefore created here with gloo (the Runner then skips
    its own init) and the wrapper gets ``device_ids=None``. SyncBN needs
    CUDA, so it becomes BN (statistics per process), which is logged.

    The rank, world size and rendezvous address come from the environment:
    ``torchrun`` (``tools/dist_train.sh``) sets ``RANK``, ``WORLD_SIZE``,
    ``MASTER_ADDR`` and ``MASTER_PORT``; with ``cfg.launcher == 'slurm'``
    they are derived from Slurm's variables as mmengine's ``init_dist``
    does (:func:`slurm_to_torch_env`).

    Raises:
        RuntimeError: If a variable the process group needs is not set,
            naming it (e.g. ``--launcher pytorch`` without torchrun).
    """
    import torch.distributed as dist
    if torch.cuda.is_available():
        return
    if not dist.is_initialized():
        if cfg.get('launcher') == 'slurm':
            slurm_to_torch_env()
        missing = [
            k for k in ('RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT')
            if k not in os.environ
        ]
        if missing:
            raise RuntimeError(
                f'--launcher {cfg.get("launcher")} on CPU: {missing} not '
                'set in the environment; start the tool with torchrun '
                '(tools/dist_train.sh, tools/dist_test.sh) or, for '
                '--launcher slurm, with srun (tools/slurm_train.sh)')
        dist.init_process_group(
            backend='gloo',
            rank=int(os.environ['RANK']),
            world_size=int(os.environ['WORLD_SIZE']))
    cfg.env_cfg.setdefault('dist_cfg', {})['backend'] = 'gloo'
    wrapper = cfg.get('model_wrapper_cfg') or dict(
        type='MMDistributedDataParallel', broadcast_buffers=False)
    wrapper['device_ids'] = None
    cfg.model_wrapper_cfg = wrapper
    replaced = []

    def no_sync_bn(node, path):
        if isinstance(node, dict):
            if node.get('type') == 'SyncBN':
                node['type'] = 'BN'
                replaced.append(path)
            for key, value in node.items():
                no_sync_bn(value, f'{path}.{key}')
        elif isinstance(node, (list, tuple)):
            for i, value in enumerate(node):
                no_sync_bn(value, f'{path}.{i}')

    no_sync_bn(cfg.model, 'model')
    if replaced and int(os.environ['RANK']) == 0:
        print(f'[mmcrossformer] CPU data parallel: SyncBN -> BN in '
              f'{replaced}', flush=True)
