"""A built wheel carries configs/, tools/ and model-index.yml in .mim."""
import os
import os.path as osp
import shutil
import subprocess
import sys
import zipfile

import pytest

from mmcrossformer.testing import REPO

# top-level entries of the checkout left out of the copy
IGNORED = ('.git', '.venv', 'build', 'dist', 'work_dirs', 'data', 'tests',
           '.pytest_cache')


def ignore(folder, names):
    skip = {n for n in names if n == '__pycache__' or n.endswith('.egg-info')}
    if osp.samefile(folder, REPO):
        skip.update(n for n in names if n in IGNORED)
    if osp.basename(folder) == 'mmcrossformer':
        skip.add('.mim')
    return skip


def build_wheel(src, out):
    """``pip wheel`` of a copy of the checkout (building rewrites
    ``mmcrossformer/.mim``, so the checkout itself is left alone). Without
    MMCF_STACK, so setup.py detects the installed stack itself."""
    env = {k: v for k, v in os.environ.items() if k != 'MMCF_STACK'}
    proc = subprocess.run(
        [sys.executable, '-m', 'pip', 'wheel', '--no-deps',
         '--no-build-isolation', '--disable-pip-version-check', '-q', '-w',
         out, src],
        capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    wheels = [f for f in os.listdir(out) if f.endswith('.whl')]
    assert len(wheels) == 1, wheels
    return osp.join(out, wheels[0])


@pytest.fixture(scope='module')
def built(tmp_path_factory):
    """(copied source tree, wheel path), built once for this module."""
    root = tmp_path_factory.mktemp('wheel')
    src = str(root / 'src')
    shutil.copytree(REPO, src, ignore=ignore, symlinks=True)
    return src, build_wheel(src, str(root / 'wheels'))


def test_wheel_contains_mim_files(built):
    src, wheel = built
    names = set(zipfile.ZipFile(wheel).namelist())
    mim = 'mmcrossformer/.mim/'
    assert mim + 'model-index.yml' in names
    # every config, metafile and tool of the checkout is in the wheel
    for top in ('configs', 'tools'):
        for root, _, files in os.walk(osp.join(src, top)):
            for name in files:
                if name.endswith(('.py', '.yml', '.sh')):
                    rel = osp.relpath(osp.join(root, name), src)
                    assert mim + rel.replace(os.sep, '/') in names, rel
    assert mim + 'configs/_base_/crossformer_in1k.py' in names
    assert mim + 'configs/crossformer/metafile.yml' in names
    assert mim + 'tools/train.py' in names
    assert mim + 'tools/model_converters/crossformer_to_mmcf.py' in names
    assert 'mmcrossformer/models/backbones/crossformer.py' in names
    # copies, not links to the source tree
    assert not any(n.startswith('tests/') for n in names)


@pytest.mark.slow
def test_mim_train_from_wheel(built, demo_imagenet, tmp_path):
    """``mim train mmcrossformer CONFIG_NAME`` finds the config and
    tools/train.py in the installed wheel's .mim and trains."""
    _, wheel = built
    site = str(tmp_path / 'site')
    proc = subprocess.run(
        [sys.executable, '-m', 'pip', 'install', '--no-deps', '-q',
         '--disable-pip-version-check', '--target', site, wheel],
        capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # the wheel's copy shadows the editable checkout
    env = dict(os.environ, PYTHONPATH=site, PYTHONUNBUFFERED='1')
    work = str(tmp_path / 'work')
    opts = [f'{part}.dataset.data_root={demo_imagenet}'
            for part in ('train_dataloader', 'val_dataloader',
                         'test_dataloader')]
    proc = subprocess.run(
        [sys.executable, '-m', 'mim', 'train', 'mmcrossformer',
         'crossformerpp_s_in1k_demo.py', '--work-dir', work,
         '--cfg-options', 'train_cfg.max_epochs=1',
         'train_dataloader.batch_size=4', *opts],
        cwd=str(tmp_path), env=env, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, timeout=1200)
    out = proc.stdout
    assert proc.returncode == 0, out[-6000:]
    packaged = osp.join(site, 'mmcrossformer', '.mim')
    assert osp.join(packaged, 'configs', 'crossformerpp_s_in1k_demo.py') \
        in out
    assert osp.join(packaged, 'tools', 'train.py') in out
    assert 'accuracy/top1' in out
    assert osp.exists(osp.join(work, 'epoch_1.pth'))


def test_mim_train_from_editable_install(demo_imagenet, tmp_path):
    """The development install (scripts/setup.sh: pip install -e . plus the
    site-packages link for mim) serves `mim list` and `mim train`."""
    import subprocess
    listed = subprocess.run([sys.executable, '-m', 'mim', 'list'],
                            capture_output=True, text=True, timeout=300)
    assert 'mmcrossformer' in listed.stdout, listed.stdout + listed.stderr
    work = str(tmp_path / 'work')
    proc = subprocess.run(
        [sys.executable, '-m', 'mim', 'train', 'mmcrossformer',
         'crossformerpp_s_in1k_demo.py', '--work-dir', work,
         '--cfg-options', 'train_cfg.max_epochs=1',
         'train_dataloader.batch_size=4',
         *[f'{loader}.dataset.data_root={demo_imagenet}'
           for loader in ('train_dataloader', 'val_dataloader',
                          'test_dataloader')]],
        cwd=str(tmp_path), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    assert osp.isfile(osp.join(work, 'epoch_1.pth'))


def _model_index():
    """Every model of model-index.yml, read as mim and mmpretrain read it
    (``modelindex.load``), with the raw YAML entry next to it."""
    import yaml
    from modelindex import load
    index = load(osp.join(REPO, 'model-index.yml'))
    raw = {}
    for meta in yaml.safe_load(open(osp.join(REPO, 'model-index.yml')))[
            'Import']:
        for model in yaml.safe_load(open(osp.join(REPO, meta)))['Models']:
            raw[model['Name']] = model
    return index, raw


def test_metafiles_in_mmpretrain_form():
    """Configs and family READMEs exist; Parameters / FLOPs are ints,
    metrics are numbers; `Converted From` names the official
    repositories."""
    import yaml
    index, raw = _model_index()
    for meta in yaml.safe_load(open(osp.join(REPO,
                                              'model-index.yml')))['Import']:
        for coll in yaml.safe_load(open(osp.join(REPO,
                                                 meta)))['Collections']:
            # the family README sits next to its metafile
            assert coll['README'] == osp.join(osp.dirname(meta), 'README.md')
            assert osp.isfile(osp.join(REPO, coll['README']))
    assert {m.name for m in index.models} == set(raw)
    assert len(raw) >= 40
    official = {'CrossFormer': 'https://github.com/cheerss/CrossFormer',
                'CrossFormer++': 'https://github.com/cheerss/CrossFormer',
                'CrossViT': 'https://github.com/IBM/CrossViT'}
    for model in index.models:
        entry = raw[model.name]
        assert osp.isfile(osp.join(REPO, model.config)), model.config
        assert entry['In Collection'] in official, model.name
        meta = entry['Metadata'] or {}
        for key in ('Parameters', 'Parameters (paper)', 'FLOPs',
                    'FLOPs (paper)'):
            if key in meta:
                value = meta[key]
                assert type(value) is int and value > 0, (model.name, key)
        for result in model.results:
            assert result.task and result.dataset, model.name
            assert result.metrics, model.name
            for metric, value in result.metrics.items():
                assert type(value) in (int, float), (model.name, metric)
                assert 0 < value <= 100, (model.name, metric)
        assert entry.get('Weights') is None, model.name
        converted = entry.get('Converted From')
        if model.results:
            # published results: the official weights to convert
            assert set(converted) == {'Weights', 'Code'}, model.name
            assert converted['Code'] == official[entry['In Collection']]
            assert converted['Weights'].startswith('https://'), model.name
        else:
            assert converted is None, model.name
    # the measured dense CrossViT rows keep their values
    dense = raw['retinanet_crossvit_15_dagger_coco']['Metadata']
    assert dense == {'FLOPs': 753840000000, 'Parameters': 36600000}


def _read_requirements(name):
    from packaging.requirements import Requirement
    with open(osp.join(REPO, 'requirements', name)) as f:
        lines = (ln.split('#')[0].strip() for ln in f)
        return {r.name: r.specifier
                for r in map(Requirement, filter(None, lines))}


def _read_pins(name):
    pins = {}
    with open(osp.join(REPO, 'requirements', name)) as f:
        for line in f:
            line = line.split('#')[0].strip()
            if '==' in line:
                dist, version = line.split('==')
                pins[dist] = version
    return pins


# stack: (install_requires, `mim` extra, pins), the files setup.py and
# scripts/setup.sh use for it
STACK_FILES = {
    'openmmlab': ('runtime.txt', 'mminstall.txt', 'constraints.txt'),
    'onedl': ('runtime-onedl.txt', 'mminstall-onedl.txt',
              'constraints-onedl.txt'),
}


@pytest.mark.parametrize('stack', sorted(STACK_FILES))
def test_mim_extra_matches_runtime_ranges(stack):
    """requirements/mminstall*.txt (the `mim` extra) carries mmcv and the
    same OpenMMLab ranges as install_requires; mmcv stays out of those.
    Each stack's files name only its own distributions, and its pinned,
    tested set is inside its ranges."""
    from mmcrossformer.utils.compat import DISTRIBUTIONS
    runtime_file, mim_file, pins_file = STACK_FILES[stack]
    mim, runtime = _read_requirements(mim_file), _read_requirements(
        runtime_file)
    own = DISTRIBUTIONS[stack]
    other = next(d for s, d in DISTRIBUTIONS.items() if s != stack)
    assert set(mim) == set(own.values())
    assert own['mmcv'] not in runtime
    for module, dist in own.items():
        if module != 'mmcv':
            assert mim[dist] == runtime[dist], dist
    # a requirement on the other stack's name would make pip install it
    # over this stack's modules
    assert not set(runtime) & set(other.values()), runtime_file
    pins = _read_pins(pins_file)
    assert not set(pins) & set(other.values()), pins_file
    for dist, spec in mim.items():
        assert pins[dist] in spec, (dist, pins[dist], str(spec))


def _setup_module():
    """The checkout's setup.py as a module (its setup() call sits under
    ``__main__``)."""
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        'mmcf_setup', osp.join(REPO, 'setup.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_setup_py_takes_the_requirement_names_of_the_installed_stack(
        monkeypatch):
    """Without MMCF_STACK, setup.py picks the stack compat sees; with it,
    the named one; an unknown name is refused naming it."""
    from mmcrossformer.utils.compat import installed_stack
    setup_py = _setup_module()
    monkeypatch.delenv('MMCF_STACK', raising=False)
    assert setup_py.detect_stack() == installed_stack()
    for stack in STACK_FILES:
        monkeypatch.setenv('MMCF_STACK', stack)
        assert setup_py.detect_stack() == stack
        assert setup_py.STACKS[stack] == STACK_FILES[stack][:2]
    monkeypatch.setenv('MMCF_STACK', 'mmlab')
    with pytest.raises(ValueError, match="MMCF_STACK='mmlab' is not"):
        setup_py.detect_stack()


def test_wheel_requires_the_installed_stack(built):
    """The wheel built here (no MMCF_STACK) requires this environment's
    distributions, never the other stack's: installing it keeps the
    installed mmengine, mmdet, ... in place."""
    from packaging.requirements import Requirement

    from mmcrossformer.utils.compat import DISTRIBUTIONS, installed_stack
    _, wheel = built
    with zipfile.ZipFile(wheel) as zf:
        meta = next(n for n in zf.namelist()
                    if n.endswith('.dist-info/METADATA'))
        lines = zf.read(meta).decode().splitlines()
    requires = [Requirement(ln.split(':', 1)[1].strip()) for ln in lines
                if ln.startswith('Requires-Dist:')]
    core = {r.name for r in requires if r.marker is None}
    stack = installed_stack()
    other = next(d for s, d in DISTRIBUTIONS.items() if s != stack)
    own = set(DISTRIBUTIONS[stack].values()) - {DISTRIBUTIONS[stack]['mmcv']}
    assert own <= core, core
    assert not {r.name for r in requires} & set(other.values()), requires
