"""Which OpenMMLab stack is installed: upstream OpenMMLab or the OneDL forks.

The maintained OneDL forks install the same modules as upstream OpenMMLab
(``mmengine``, ``mmcv``, ``mmdet``, ``mmseg``, ``mmpretrain``) from
distributions with other names (``onedl-mmengine``, ...), so the module
alone does not tell them apart; the distribution that owns it does. Nothing
here imports the OpenMMLab modules themselves, so it is cheap to call
before they are imported (in ``setup.py``-like code, in tests, in error
messages).
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
