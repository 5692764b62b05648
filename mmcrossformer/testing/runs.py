"""Run the repository's tools as a user does, and read their logs.

The paths point into the source checkout (``mmcrossformer`` installed in
editable mode, as ``make setup`` does); the tools and configs are not part
of an installed wheel.
"""
import os
import os.path as osp
import re
import subprocess
import sys
from typing import List, Sequence

#: The checkout that holds this package, its configs/ and tools/.
REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = osp.join(REPO, 'configs')
TOOLS = osp.join(REPO, 'tools')

#: ``--cfg-options`` entry for mmdet configs: after a few iterations from
#: scratch all scores are below the default 0.05 threshold, and CocoMetric
#: returns nothing for an empty result set.
KEEP_ALL_BOXES = 'model.test_cfg.score_thr=0.0'


def run_tool(script: str, *args: str, cwd: str = REPO,
             timeout: float = 1800) -> str:
    """Run ``tools/<script>`` in a fresh interpreter and return its output.

    Args:
        script (str): Path under ``tools/`` (e.g. ``'train.py'``).
        *args (str): Its command-line arguments.
        cwd (str): Working directory. Defaults to the checkout.
        timeout (float): Seconds before the run is killed. Defaults to 1800.

    Returns:
        str: stdout and stderr together.

    Raises:
        FileNotFoundError: If the tool is not there (not a source checkout).
        AssertionError: If the tool exits with a non-zero status; the
            message holds the end of its output.
    """
    path = osp.join(TOOLS, script)
    if not osp.isfile(path):
        raise FileNotFoundError(f'{path} does not exist: run_tool needs the '
                                'source checkout (pip install -e .)')
    env = dict(os.environ, PYTHONUNBUFFERED='1')
    proc = subprocess.run([sys.executable, path, *args],
                          cwd=cwd,
                          env=env,
                          stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT,
                          text=True,
                          timeout=timeout)
    if proc.returncode != 0:
        raise AssertionError(f'{script} failed ({proc.returncode}):\n'
                             f'{proc.stdout[-6000:]}')
    return proc.stdout


def losses_of(out: str) -> List[float]:
    """The total losses that mmengine's logger printed, in order.

    Raises:
        AssertionError: If there is none, or one is NaN.
    """
    losses = [float(x) for x in re.findall(r' loss: ([0-9.]+)', out)]
    assert losses and all(x == x for x in losses), out[-3000:]
    return losses


def assert_learns(losses: Sequence[float], first: int = 4, last: int = 4,
                  ratio: float = 0.8) -> None:
    """Assert that the mean of the last ``last`` losses is at most ``ratio``
    times the mean of the first ``first`` (with lr = 0 it stays at about
    1)."""
    head = sum(losses[:first]) / first
    tail = sum(losses[-last:]) / last
    assert tail <= ratio * head, (head, tail, losses)


def coco_data_options(root: str) -> List[str]:
    """``--cfg-options`` entries that point an mmdet config's train, val and
    test data and evaluators at a COCO-format set under ``root`` (ending in
    ``/``), e.g. one from :func:`~mmcrossformer.testing.make_demo_coco`."""
    return [
        f'train_dataloader.dataset.data_root={root}',
        f'val_dataloader.dataset.data_root={root}',
        f'test_dataloader.dataset.data_root={root}',
        f'val_evaluator.ann_file={root}annotations/instances_val2017.json',
        f'test_evaluator.ann_file={root}annotations/instances_val2017.json',
    ]


def coco_overfit_options(root: str, iters: int) -> List[str]:
    """``--cfg-options`` entries for the demo detection configs: train on a
    fixed batch (the first two training images, no flips) at a constant lr
    for ``iters`` iterations, then evaluate on those images.

    With lr = 0 the loss stays at its first value (ratio 1.0) and the
    RetinaNet bbox mAP is 0.000; RetinaNet at lr 5e-5 gave a ratio of 0.78
    and a bbox mAP of 0.030 after 16 iterations.
    """
    return [
        f'train_cfg.max_epochs={iters}', f'train_cfg.val_interval={iters}',
        f'default_hooks.checkpoint.interval={iters}',
        'train_dataloader.batch_size=2', 'val_dataloader.batch_size=2',
        'train_dataloader.dataset.indices=2',
        'val_dataloader.dataset.indices=2',
        'train_dataloader.dataset.pipeline.3.prob=0.0',
        'train_dataloader.dataset.pipeline.2.scale=(160,128)',
        'val_dataloader.dataset.pipeline.1.scale=(160,128)',
        # constant lr: no warm-up from 0.01x, no cosine decay
        'param_scheduler.0.start_factor=1.0',
        'param_scheduler.1.eta_min_ratio=1.0',
        'default_hooks.logger.interval=1',
        f'train_dataloader.dataset.data_root={root}',
        f'val_dataloader.dataset.data_root={root}',
        'val_dataloader.dataset.ann_file=annotations/'
        'instances_train2017.json',
        'val_dataloader.dataset.data_prefix.img=train2017/',
        f'val_evaluator.ann_file={root}annotations/instances_train2017.json',
    ]
