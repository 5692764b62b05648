"""Strict state-dict loading with a readable report of what does not fit."""
from typing import Dict, List

import torch
import torch.nn as nn


def mismatch_report(module: nn.Module,
                    state_dict: Dict[str, torch.Tensor],
                    limit: int = 20) -> str:
    """Describe the missing, unexpected and wrong-shape keys ('' if none).

    Args:
        module (nn.Module): The model the weights are meant for.
        state_dict (dict): The weights.
        limit (int): Keys listed per kind; the rest are counted.
    """
    own = module.state_dict()
    missing = sorted(set(own) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(own))
    shapes = [
        f'{k}: checkpoint {tuple(v.shape)} vs model {tuple(own[k].shape)}'
        for k, v in state_dict.items()
        if k in own and hasattr(v, 'shape') and v.shape != own[k].shape
    ]
    parts: List[str] = []
    for title, keys in (('missing', missing), ('unexpected', unexpected),
                        ('wrong shape', shapes)):
        if keys:
            more = f' ... and {len(keys) - limit} more' \
                if len(keys) > limit else ''
            parts.append(f'{len(keys)} {title} keys: '
                         f'{keys[:limit]}{more}')
    return '; '.join(parts)


def load_state_dict_strict(module: nn.Module, state_dict: Dict[str,
                                                               torch.Tensor],
                           source: str) -> None:
    """Load ``state_dict`` into ``module``, all keys and shapes matching.

    The module's own load hooks run first (e.g. CrossViT resizes position
    embeddings of another grid), so only what they cannot adapt fails.

    Raises:
        ValueError: Naming ``source`` and listing the missing, unexpected and
            wrong-shape keys, e.g. for a checkpoint of another arch or task.
    """
    try:
        module.load_state_dict(state_dict, strict=True)
    except RuntimeError as err:
        report = mismatch_report(module, state_dict) or str(err)
        raise ValueError(
            f'{source} does not fit {type(module).__name__}: {report}. Is it '
            f'a checkpoint of another arch or task? Convert official '
            f'releases with tools/model_converters first.') from err
