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
