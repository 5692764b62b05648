import subprocess
import sys


def test_testing_package_imports_light():
    """mmdet, mmseg and scikit-image load only when a set is written."""
    code = ('import sys, mmcrossformer, mmcrossformer.testing as t; '
            'assert callable(t.make_demo_coco); '
            'bad = [m for m in ("mmdet", "mmseg", "skimage") '
            'if m in sys.modules]; print(bad); sys.exit(1 if bad else 0)')
    proc = subprocess.run([sys.executable, '-c', code],
                          capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_utils_no_longer_exports_demo_modules():
    import mmcrossformer.utils as utils
    assert not any(name.startswith('demo_') for name in dir(utils))
