import os
import os.path as osp
import re
import sys

import pytest

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIGS = osp.join(REPO, 'configs')
TOOLS = osp.join(REPO, 'tools')


def pytest_configure(config):
    config.addinivalue_line(
        'markers', 'slow: long end-to-end runs (deselect with -m "not slow")')
    config.addinivalue_line(
        'markers', 'cuda: needs a CUDA GPU, skipped without one (the CUDA '
        'lane: pytest -m cuda, see docs/en/cuda.md)')


@pytest.fixture(scope='session')
def demo_coco(tmp_path_factory):
    """A small embedded COCO-format set, generated once per test session."""
    from mmcrossformer.testing.demo_coco import make_demo_coco
    root = str(tmp_path_factory.mktemp('demo_coco'))
    make_demo_coco(root, num_train=8, num_val=4, size=(160, 128), seed=1)
    return root + '/'


@pytest.fixture(scope='session')
def demo_ade20k(tmp_path_factory):
    """A small embedded ADE20K-layout set, generated once per session."""
    from mmcrossformer.testing.demo_ade20k import make_demo_ade20k
    root = str(tmp_path_factory.mktemp('demo_ade20k'))
    make_demo_ade20k(root, num_train=8, num_val=4, size=(96, 80), seed=1)
    return root + '/'


@pytest.fixture(scope='session')
def demo_imagenet(tmp_path_factory):
    """A small embedded ImageNet-layout set, generated once per session."""
    from mmcrossformer.testing.demo_imagenet import make_demo_imagenet
    root = str(tmp_path_factory.mktemp('demo_imagenet'))
    make_demo_imagenet(root, 4, 2, size=(64, 64), seed=1)
    return root + '/'


def run_tool(script, *args, cwd=REPO, timeout=1800):
    """Run a tools/ script in a fresh interpreter; return its output."""
    import subprocess
    env = dict(os.environ, PYTHONUNBUFFERED='1')
    proc = subprocess.run([sys.executable, osp.join(TOOLS, script), *args],
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


def losses_of(out):
    """The total losses that mmengine's logger printed, in order."""
    losses = [float(x) for x in re.findall(r' loss: ([0-9.]+)', out)]
    assert losses and all(x == x for x in losses), out[-3000:]
    return losses


def assert_learns(losses, first=4, last=4, ratio=0.8):
    """The mean of the last iterations' losses is at most ``ratio`` times
    the mean of the first ones (with lr = 0 it stays at about 1)."""
    head = sum(losses[:first]) / first
    tail = sum(losses[-last:]) / last
    assert tail <= ratio * head, (head, tail, losses)
