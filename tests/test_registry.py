import subprocess
import sys

from mmengine.registry import MODELS as ROOT_MODELS

import mmcrossformer
from mmcrossformer.registry import MODELS


def test_registry_is_child_of_root():
    assert MODELS.scope == 'mmcrossformer'
    assert MODELS.parent is ROOT_MODELS
    assert ROOT_MODELS.children['mmcrossformer'] is MODELS
    assert MODELS.get('CrossFormer') is not None


def test_scoped_build_from_other_scopes():
    from mmengine.registry import DefaultScope
    for scope in ('mmdet', 'mmseg', 'mmpretrain'):
        with DefaultScope.overwrite_default_scope(scope):
            model = ROOT_MODELS.build(
                dict(type='mmcrossformer.CrossFormer', arch='pp-s'))
        assert type(model).__name__ == 'CrossFormer'


def test_import_does_not_pull_mmdet_or_mmseg():
    code = ('import sys, mmcrossformer; '
            'bad = [m for m in ("mmdet", "mmseg") if m in sys.modules]; '
            'print(bad); sys.exit(1 if bad else 0)')
    proc = subprocess.run([sys.executable, '-c', code],
                          capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_version():
    assert isinstance(mmcrossformer.__version__, str)
    assert mmcrossformer.__version__.count('.') == 2
