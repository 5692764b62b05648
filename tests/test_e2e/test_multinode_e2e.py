"""Two "nodes" on the loopback: multi-node data-parallel training with
``tools/dist_train.sh`` (torchrun, gloo on CPU)."""
import os
import os.path as osp
import subprocess
import sys
import textwrap

import torch

from mmcrossformer.testing import CONFIGS, REPO, TOOLS, coco_data_options
from mmcrossformer.utils.checkpoint import safe_load

DEMO = osp.join(CONFIGS, 'retinanet_crossformerpp_s_coco_demo.py')

# Saves every rank's final weights: mmengine's CheckpointHook writes on rank
# 0 only, and the test must see rank 1's weights as well.
DUMP_HOOK = textwrap.dedent('''
    import os.path as osp
    import torch
    from mmengine.dist import get_rank
    from mmengine.hooks import Hook
    from mmengine.registry import HOOKS

    @HOOKS.register_module()
    class DumpRankWeightsHook(Hook):
        def _dump(self, runner, name):
            model = getattr(runner.model, 'module', runner.model)
            torch.save({k: v.detach().clone()
                        for k, v in model.state_dict().items()},
                       osp.join(runner.work_dir,
                                f'{name}_rank{get_rank()}.pth'))

        def before_train(self, runner):
            self._dump(runner, 'initial')

        def after_train(self, runner):
            self._dump(runner, 'final')
''')


def test_two_nodes_on_loopback(demo_coco, tmp_path):
    """NNODES=2, one process per node: both launches rendezvous on
    MASTER_ADDR:PORT, train one epoch (2 images per rank and step, 8 images:
    2 steps), rank 0 writes the only checkpoint, and both ranks end with
    identical weights (equal to the checkpoint's), which a missing gradient
    all-reduce would break (the ranks see different images)."""
    (tmp_path / 'dump_rank_weights_hook.py').write_text(DUMP_HOOK)
    config = tmp_path / 'two_nodes_demo.py'
    config.write_text(
        f'_base_ = [{DEMO!r}]\n'
        "custom_imports = dict(imports=['dump_rank_weights_hook'])\n"
        'custom_hooks = _base_.custom_hooks + '
        "[dict(type='DumpRankWeightsHook')]\n")
    common = [
        '--cfg-options', 'train_cfg.max_epochs=1',
        'train_dataloader.batch_size=2', 'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False',
        'default_hooks.logger.interval=1', 'train_cfg.val_interval=5',
        *coco_data_options(demo_coco)
    ]
    procs, work_dirs = [], []
    for node_rank in (0, 1):
        # each "machine" has its own work dir, as on a cluster without a
        # shared file system
        work_dir = str(tmp_path / f'node{node_rank}')
        work_dirs.append(work_dir)
        env = dict(
            os.environ, PYTHON=sys.executable, NNODES='2',
            NODE_RANK=str(node_rank), MASTER_ADDR='127.0.0.1', PORT='29571',
            OMP_NUM_THREADS='1', PYTHONUNBUFFERED='1',
            PYTHONPATH=f'{tmp_path}:{os.environ.get("PYTHONPATH", "")}')
        procs.append(subprocess.Popen(
            ['bash', osp.join(TOOLS, 'dist_train.sh'), str(config), '1',
             '--work-dir', work_dir, *common],
            cwd=REPO, env=env, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True))
    outs = []
    for proc in procs:
        try:
            outs.append(proc.communicate(timeout=900)[0])
        except subprocess.TimeoutExpired:
            for p in procs:
                p.kill()
            raise
    for node_rank, (proc, out) in enumerate(zip(procs, outs)):
        assert proc.returncode == 0, f'node {node_rank}:\n{out[-5000:]}'
    log0 = outs[0]
    assert 'Distributed training: True' in log0, log0[-3000:]
    assert 'GPU number: 2' in log0 or 'world_size: 2' in log0, log0[-3000:]
    # 8 images / (2 ranks x 2 per step) = 2 steps per epoch
    assert 'Epoch(train) [1][2/2]' in log0, log0[-3000:]
    ckpts = [sorted(f for f in os.listdir(d) if f.startswith('epoch_'))
             for d in work_dirs]
    assert ckpts == [['epoch_1.pth'], []], ckpts

    def dumped(name):
        return [
            torch.load(osp.join(d, f'{name}_rank{r}.pth'), weights_only=True)
            for r, d in enumerate(work_dirs)
        ]

    initial, final = dumped('initial'), dumped('final')
    ckpt = safe_load(osp.join(work_dirs[0], 'epoch_1.pth'))['state_dict']
    assert final[0].keys() == final[1].keys() == ckpt.keys()
    for key, value in final[0].items():
        assert torch.equal(value, final[1][key]), key
        assert torch.equal(value, ckpt[key]), key
    # the ranks started from the same weights (DDP broadcasts rank 0's) and
    # training moved them
    for key, value in initial[0].items():
        assert torch.equal(value, initial[1][key]), key
    moved = [k for k, v in initial[0].items()
             if v.is_floating_point() and not torch.equal(v, final[0][k])]
    assert len(moved) > 100, moved
