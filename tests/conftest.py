"""Fixtures and markers only; the helpers are in mmcrossformer.testing."""
import pytest


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
