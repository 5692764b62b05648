"""Stack detection (mmcrossformer.utils.compat) on either installed stack."""
from importlib import metadata

import pytest

from mmcrossformer.utils import compat


def test_each_module_comes_from_the_installed_stack():
    """All five modules come from one stack, the one compat reports, and
    the reported version is the one the module itself carries."""
    import mmcv
    import mmdet
    import mmengine
    import mmpretrain
    import mmseg
    modules = dict(mmengine=mmengine, mmcv=mmcv, mmdet=mmdet, mmseg=mmseg,
                   mmpretrain=mmpretrain)
    stack = compat.installed_stack()
    assert stack in compat.DISTRIBUTIONS
    for name, module in modules.items():
        found = compat.module_distribution(name)
        assert found is not None, name
        assert found[:2] == (stack, compat.DISTRIBUTIONS[stack][name]), found
        assert found[2] == module.__version__, (name, found)
    assert compat.is_onedl() == (stack == 'onedl')


def test_a_module_of_neither_stack_is_refused():
    with pytest.raises(ValueError, match=r"module='mmdeploy' is not"):
        compat.module_distribution('mmdeploy')


def test_missing_distributions(monkeypatch):
    """Neither stack installed: None per module, and installed_stack says
    how to install one."""
    def not_found(dist):
        raise metadata.PackageNotFoundError(dist)

    monkeypatch.setattr(compat.metadata, 'version', not_found)
    assert compat.module_distribution('mmdet') is None
    with pytest.raises(RuntimeError, match='STACK=onedl'):
        compat.installed_stack()


def test_onedl_wins_over_a_leftover_upstream_distribution(monkeypatch):
    """Both distributions of a module registered (one install wrote over
    the other's files): the fork is reported, as on the OneDL stack."""
    versions = {'mmengine': '0.10.7', 'onedl-mmengine': '0.10.12'}

    def version(dist):
        if dist not in versions:
            raise metadata.PackageNotFoundError(dist)
        return versions[dist]

    monkeypatch.setattr(compat.metadata, 'version', version)
    assert compat.module_distribution('mmengine') == (
        'onedl', 'onedl-mmengine', '0.10.12')
    assert compat.installed_stack() == 'onedl'
    versions.pop('onedl-mmengine')
    assert compat.installed_stack() == 'openmmlab'


def test_config_bases_of_every_package_resolve(tmp_path):
    """``mmdet::``, ``mmseg::`` and ``mmpretrain::`` bases load on the
    installed stack once mmcrossformer is imported (on OneDL, ``mmseg::``
    needs :func:`compat.register_config_packages`)."""
    from mmengine.config import Config
    from mmengine.config import utils as config_utils
    cfg_file = tmp_path / 'bases.py'
    cfg_file.write_text(
        "_base_ = ['mmdet::_base_/schedules/schedule_1x.py',\n"
        "          'mmseg::_base_/datasets/ade20k.py',\n"
        "          'mmpretrain::_base_/default_runtime.py']\n")
    cfg = Config.fromfile(str(cfg_file))
    assert cfg.dataset_type == 'ADE20KDataset'
    assert cfg.train_cfg.type == 'EpochBasedTrainLoop'
    # every scope maps to a distribution that is installed
    for module in ('mmdet', 'mmseg', 'mmpretrain'):
        dist = config_utils.MODULE2PACKAGE[module]
        assert metadata.version(dist), (module, dist)
    # nothing left to change on a second call
    assert compat.register_config_packages() == {}


def test_config_packages_point_at_the_forks(monkeypatch):
    """The branch the OneDL stack takes, run on either stack: with the
    forks' distributions (and not upstream's) installed, mmengine's scope
    -> distribution map is pointed at the forks'; upstream's entries, when
    installed, are left alone."""
    from mmengine.config import utils as config_utils
    table = dict(config_utils.MODULE2PACKAGE)
    monkeypatch.setattr(config_utils, 'MODULE2PACKAGE', table)
    table.update(mmdet='mmdet', mmseg='mmsegmentation',
                 mmpretrain='mmpretrain')
    installed = {'onedl-mmdetection': '3.5.1',
                 'onedl-mmsegmentation': '1.4.2', 'mmpretrain': '1.2.0'}

    def version(dist):
        if dist not in installed:
            raise metadata.PackageNotFoundError(dist)
        return installed[dist]

    monkeypatch.setattr(compat.metadata, 'version', version)
    changed = compat.register_config_packages()
    assert changed == {'mmdet': 'onedl-mmdetection',
                       'mmseg': 'onedl-mmsegmentation'}
    assert table['mmseg'] == 'onedl-mmsegmentation'
    assert table['mmpretrain'] == 'mmpretrain'
    # the module that mmengine's loader reads is the one changed
    assert config_utils._get_package_and_cfg_path(
        'mmseg::_base_/datasets/ade20k.py') == (
            'onedl-mmsegmentation', '_base_/datasets/ade20k.py')
