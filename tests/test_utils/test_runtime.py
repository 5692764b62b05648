"""Process-group settings of mmcrossformer.utils.runtime (CPU, gloo)."""
import os

import pytest
import torch
from mmengine.config import Config

from mmcrossformer.utils.runtime import (
    setup_cpu_distributed,
    slurm_to_torch_env,
)

TORCH_VARS = ('RANK', 'WORLD_SIZE', 'LOCAL_RANK', 'MASTER_ADDR', 'MASTER_PORT')


@pytest.fixture
def clean_env(monkeypatch):
    for key in TORCH_VARS + ('SLURM_PROCID', 'SLURM_NTASKS', 'SLURM_LOCALID',
                             'SLURM_NODELIST'):
        monkeypatch.delenv(key, raising=False)
    return monkeypatch


def test_slurm_variables_become_torch_variables(clean_env):
    # the second task of a 2-node x 4-task job, on its node's task 1
    for key, value in dict(SLURM_PROCID='5', SLURM_NTASKS='8',
                           SLURM_LOCALID='1', SLURM_NODELIST='node[3-4]',
                           MASTER_ADDR='10.1.2.3').items():
        clean_env.setenv(key, value)
    slurm_to_torch_env()
    assert {k: os.environ[k] for k in TORCH_VARS} == dict(
        RANK='5', WORLD_SIZE='8', LOCAL_RANK='1', MASTER_ADDR='10.1.2.3',
        MASTER_PORT='29500')
    clean_env.setenv('MASTER_PORT', '29612')
    slurm_to_torch_env()
    assert os.environ['MASTER_PORT'] == '29612'


def test_slurm_launcher_outside_srun_is_named(clean_env):
    clean_env.setenv('SLURM_NTASKS', '2')
    with pytest.raises(RuntimeError, match=r"\['SLURM_PROCID'\] not set"):
        slurm_to_torch_env()


@pytest.mark.skipif(torch.cuda.is_available(),
                    reason='a no-op with CUDA (mmengine initialises nccl)')
def test_pytorch_launcher_without_torchrun_is_named(clean_env):
    cfg = Config(dict(launcher='pytorch', env_cfg=dict(), model=dict()))
    with pytest.raises(RuntimeError, match=r"--launcher pytorch on CPU: "
                       r"\['RANK', 'WORLD_SIZE', 'MASTER_ADDR', "
                       r"'MASTER_PORT'\] not set"):
        setup_cpu_distributed(cfg)
