"""Which OpenMMLab stack is installed: upstream OpenMMLab or the OneDL forks.

The maintained OneDL forks install the same modules as upstream OpenMMLab
(``mmengine``, ``mmcv``, ``mmdet``, ``mmseg``, ``mmpretrain``) from
distributions with other names (``onedl-mmengine``, ...), so the module
alone does not tell them apart; the distribution that owns it does. The
detection functions import none of the OpenMMLab modules, so they are cheap
to call before those are imported (in tests, in error messages).

Importing this module (``import mmcrossformer`` does) also runs
:func:`register_config_packages`, the one place where the stacks behave
differently for this package (see there).
"""
from importlib import metadata
from typing import Dict, Optional, Tuple

#: stack name -> {module: distribution that installs it}
DISTRIBUTIONS: Dict[str, Dict[str, str]] = {
    'openmmlab': {
        'mmengine': 'mmengine',
        'mmcv': 'mmcv',
        'mmdet': 'mmdet',
        'mmseg': 'mmsegmentation',
        'mmpretrain': 'mmpretrain',
    },
    'onedl': {
        'mmengine': 'onedl-mmengine',
        'mmcv': 'onedl-mmcv',
        'mmdet': 'onedl-mmdetection',
        'mmseg': 'onedl-mmsegmentation',
        'mmpretrain': 'onedl-mmpretrain',
    },
}


def module_distribution(module: str) -> Optional[Tuple[str, str, str]]:
    """The installed distribution that provides an OpenMMLab module.

    Args:
        module (str): One of ``mmengine``, ``mmcv``, ``mmdet``, ``mmseg``,
            ``mmpretrain``.

    Returns:
        tuple | None: ``(stack, distribution, version)``, e.g.
        ``('onedl', 'onedl-mmengine', '0.10.12')``; None when neither stack
        installs the module. With both installed (a broken environment: one
        overwrote the other's files) the OneDL one is reported.

    Raises:
        ValueError: ``module`` is not one of the five.
    """
    if module not in DISTRIBUTIONS['openmmlab']:
        raise ValueError(f'module={module!r} is not an OpenMMLab module of '
                         f'either stack; use one of '
                         f'{sorted(DISTRIBUTIONS["openmmlab"])}')
    for stack in ('onedl', 'openmmlab'):
        dist = DISTRIBUTIONS[stack][module]
        try:
            return stack, dist, metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return None


def installed_stack() -> str:
    """``'onedl'`` or ``'openmmlab'``: the stack that installed mmengine.

    Raises:
        RuntimeError: mmengine is installed by neither stack.
    """
    found = module_distribution('mmengine')
    if found is None:
        raise RuntimeError(
            'mmengine is not installed: install the upstream OpenMMLab stack '
            '(`bash scripts/setup.sh`) or the OneDL forks '
            '(`STACK=onedl bash scripts/setup.sh`)')
    return found[0]


def is_onedl() -> bool:
    """Whether the OneDL forks are the installed stack."""
    return installed_stack() == 'onedl'


def register_config_packages() -> Dict[str, str]:
    """Let ``mmseg::`` (and ``mmdet::``, ``mmpretrain::``) config bases
    resolve on the OneDL stack.

    mmengine maps the scope of a base such as
    ``'mmseg::_base_/datasets/ade20k.py'`` to a distribution name
    (``mmengine.config.utils.MODULE2PACKAGE``: ``mmseg`` ->
    ``mmsegmentation``) and refuses the base when that distribution is not
    installed. Upstream mmengine 0.10.7 asks ``pkg_resources``, which finds
    ``mmsegmentation``; onedl-mmengine 0.10.12 asks ``importlib.metadata``
    and, failing that, for a module of that name, so on the OneDL stack
    (``onedl-mmsegmentation``, module ``mmseg``) every ``mmseg::`` base
    fails with "mmsegmentation is not installed". Where the mapped
    distribution is missing and the fork's is installed, the entry is
    pointed at the fork's; nothing changes on the upstream stack.

    Returns:
        dict: The entries changed, ``{scope: distribution}`` (empty on the
        upstream stack).
    """
    from mmengine.config import utils as config_utils
    changed = {}
    for module in ('mmdet', 'mmseg', 'mmpretrain'):
        mapped = config_utils.MODULE2PACKAGE.get(module)
        found = module_distribution(module)
        if mapped is None or found is None or found[1] == mapped:
            continue
        try:
            metadata.version(mapped)
            continue  # the mapped distribution is there: leave it
        except metadata.PackageNotFoundError:
            pass
        config_utils.MODULE2PACKAGE[module] = found[1]
        changed[module] = found[1]
    return changed


register_config_packages()
