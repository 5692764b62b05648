"""Packaging for mmcrossformer (an OpenMMLab 2.0 plugin)."""
import os
import os.path as osp
import shutil
import sys
import sysconfig

from setuptools import find_packages, setup

HERE = osp.dirname(osp.abspath(__file__))
MIM_FILES = ('configs', 'tools', 'model-index.yml')
# setup.py commands that put files in a build or link a development install;
# metadata-only runs (egg_info / dist_info: pip's dry runs and resolver
# steps) leave mmcrossformer/.mim as it is
BUILD_COMMANDS = ('bdist_wheel', 'sdist', 'build', 'build_py', 'install',
                  'bdist_egg', 'develop', 'editable_wheel')


def get_version():
    scope = {}
    with open(osp.join(HERE, 'mmcrossformer', 'version.py')) as f:
        exec(f.read(), scope)
    return scope['__version__']


def parse_requirements(fname):
    with open(osp.join(HERE, 'requirements', fname)) as f:
        lines = (ln.split('#')[0].strip() for ln in f)
        return [ln for ln in lines if ln]


# Two stacks install the same modules (mmengine, mmcv, mmdet, mmseg,
# mmpretrain): upstream OpenMMLab and the maintained OneDL forks, whose
# distributions are named onedl-mmengine, onedl-mmcv, ... A requirement on
# `mmengine` would make pip install upstream mmengine over onedl-mmengine
# (pip knows nothing of the shared module), and no environment marker can
# ask which packages are installed. So the requirement names are chosen
# when the package is built: MMCF_STACK=openmmlab|onedl if set, else the
# forks' names when one of them is installed in the target environment,
# else upstream's (a fresh `pip install` gets the upstream stack, as
# before). A wheel keeps the names of the stack it was built for.
STACKS = {
    # stack: (install_requires file, `mim` extra file)
    'openmmlab': ('runtime.txt', 'mminstall.txt'),
    'onedl': ('runtime-onedl.txt', 'mminstall-onedl.txt'),
}


def detect_stack():
    """'onedl' or 'openmmlab': the stack whose requirement names to use."""
    stack = os.environ.get('MMCF_STACK')
    if stack:
        if stack not in STACKS:
            raise ValueError(f'MMCF_STACK={stack!r} is not a stack; use one '
                             f'of {sorted(STACKS)}')
        return stack
    from importlib import metadata

    # pip's isolated build environment hides the target's site-packages
    # from sys.path, but sysconfig still names them (sys.prefix is the
    # target interpreter's)
    paths = list(sys.path) + [
        sysconfig.get_paths()[key] for key in ('purelib', 'platlib')]
    for dist in metadata.distributions(path=paths):
        name = (dist.metadata['Name'] or '').lower().replace('_', '-')
        if name.startswith('onedl-mm'):
            return 'onedl'
    return 'openmmlab'


def add_mim_extension():
    """Place configs/, tools/ and model-index.yml in ``mmcrossformer/.mim``.

    ``mim train mmcrossformer CONFIG`` looks for them there. Editable installs
    (``develop`` or PEP 660 ``editable_wheel``) get symlinks so edits are seen
    at once; sdist / wheel builds get copies.
    """
    import sys
    if not any(cmd in sys.argv for cmd in BUILD_COMMANDS):
        return
    editable = any(cmd in sys.argv for cmd in ('develop', 'editable_wheel'))
    mim_dir = osp.join(HERE, 'mmcrossformer', '.mim')
    os.makedirs(mim_dir, exist_ok=True)
    for name in MIM_FILES:
        src = osp.join(HERE, name)
        dst = osp.join(mim_dir, name)
        if not osp.exists(src):
            continue
        if osp.islink(dst) or osp.isfile(dst):
            os.remove(dst)
        elif osp.isdir(dst):
            shutil.rmtree(dst)
        if editable:
            os.symlink(osp.relpath(src, mim_dir), dst)
        elif osp.isdir(src):
            shutil.copytree(src, dst)
        else:
            shutil.copyfile(src, dst)


if __name__ == '__main__':
    add_mim_extension()
    runtime, mminstall = STACKS[detect_stack()]
    setup(
        name='mmcrossformer',
        version=get_version(),
        description='CrossFormer / CrossFormer++ and CrossViT backbones for '
        'mmpretrain, mmdet and mmseg (OpenMMLab 2.0)',
        long_description=open(osp.join(HERE, 'README.md')).read()
        if osp.exists(osp.join(HERE, 'README.md')) else '',
        long_description_content_type='text/markdown',
        packages=find_packages(exclude=('configs', 'tools', 'tests')),
        include_package_data=True,
        package_data={'mmcrossformer': ['.mim/**/*', '.mim/*']},
        python_requires='>=3.8',
        install_requires=parse_requirements(runtime),
        extras_require={
            'tests': parse_requirements('tests.txt'),
            # OpenMMLab's convention: `mim install ".[mim]"` adds mmcv
            # (prebuilt by OpenMMLab) and the other ranges of mminstall.txt
            'mim': parse_requirements(mminstall),
        },
        license='Apache License 2.0',
        zip_safe=False,
    )
