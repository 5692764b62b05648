"""Strict state-dict loading with a readable report of what does not fit.

The loads go through ``torch.nn.Module.load_state_dict(strict=True)``, not
mmengine's ``mmengine.runner.checkpoint.load_state_dict``, whose message is
not the same and whose strictness depends on the process: it raises (and
prints) only on rank 0 of a distributed run, so the other ranks would keep
a partial load without a word, and its message joins the key names on one
line without naming the file. The report here names the file, counts each
kind of mismatch and shows both shapes of a wrong-shape key.
"""
from typing import Dict, List, Sequence, Tuple

import torch
import torch.nn as nn


def key_mismatches(
    module: nn.Module,
    state_dict: Dict[str, torch.Tensor],
    resizable: Sequence[str] = ()
) -> Tuple[List[str], List[str], List[str]]:
    """The keys of ``state_dict`` that do not fit ``module``.

    Args:
        module (nn.Module): The model the weights are meant for.
        state_dict (dict): The weights.
        resizable (Sequence[str]): Key substrings whose shapes the module's
            load hooks adapt (e.g. CrossViT's ``'.pos_embeds.'``); such keys
            are not reported as wrong-shape.

    Returns:
        tuple[list[str], list[str], list[str]]: Missing keys, unexpected
        keys (both sorted) and ``'key: checkpoint (shape) vs model
        (shape)'`` for each wrong-shape key.
    """
    own = module.state_dict()
    missing = sorted(set(own) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(own))
    shapes = [
        f'{k}: checkpoint {tuple(v.shape)} vs model {tuple(own[k].shape)}'
        for k, v in state_dict.items()
        if k in own and hasattr(v, 'shape') and v.shape != own[k].shape
        and not any(part in k for part in resizable)
    ]
    return missing, unexpected, shapes


def mismatch_report(module: nn.Module,
                    state_dict: Dict[str, torch.Tensor],
                    limit: int = 20,
                    resizable: Sequence[str] = ()) -> str:
    """Describe the missing, unexpected and wrong-shape keys on one line.

    Args:
        module (nn.Module): The model the weights are meant for.
        state_dict (dict): The weights.
        limit (int): Keys listed per kind; the rest are counted.
            Defaults to 20.
        resizable (Sequence[str]): As :func:`key_mismatches`.
            Defaults to ().

    Returns:
        str: E.g. ``"1 missing keys: ['head.fc.weight']"``; kinds joined
        by ``'; '``, ``''`` when everything fits.
    """
    parts: List[str] = []
    for title, keys in zip(('missing', 'unexpected', 'wrong shape'),
                           key_mismatches(module, state_dict,
                                          resizable)):
        if keys:
            more = f' ... and {len(keys) - limit} more' \
                if len(keys) > limit else ''
            parts.append(f'{len(keys)} {title} keys: '
                         f'{keys[:limit]}{more}')
    return '; '.join(parts)


def load_converted_strictly(model: nn.Module,
                            state_dict: Dict[str, torch.Tensor],
                            resizable: Sequence[str] = ()) -> None:
    """Load converted weights into ``model`` (for the model converters),
    checking every key and shape before anything is copied.

    Args:
        model (nn.Module): The model the config builds.
        state_dict (dict): The converted weights.
        resizable (Sequence[str]): Key substrings whose shapes the model's
            load hooks adapt (not reported as wrong-shape).

    Raises:
        RuntimeError: Listing every missing, unexpected and wrong-shape key
            (not only the first few), one per line.
    """
    mismatches = key_mismatches(model, state_dict, resizable)
    if any(mismatches):
        lines = ['The converted checkpoint does not match the model:']
        for title, keys in zip(('missing', 'unexpected', 'wrong shape'),
                               mismatches):
            if keys:
                lines.append(f'  {title} ({len(keys)}):')
                lines.extend(f'    {k}' for k in keys)
        raise RuntimeError('\n'.join(lines))
    model.load_state_dict(state_dict, strict=True)


def load_state_dict_strict(module: nn.Module, state_dict: Dict[str,
                                                               torch.Tensor],
                           source: str) -> None:
    """Load ``state_dict`` into ``module``, all keys and shapes matching.

    The module's own load hooks run first (e.g. CrossViT resizes position
    embeddings of another grid), so only what they cannot adapt fails.

    Args:
        module (nn.Module): The model (or backbone) to load into.
        state_dict (dict): The weights, keys relative to ``module``.
        source (str): Where they come from (a file name), for the message.

    Raises:
        ValueError: Naming ``source`` and listing the missing, unexpected and
            wrong-shape keys, e.g. for a checkpoint of another arch or task.
    """
    try:
        module.load_state_dict(state_dict, strict=True)
    except RuntimeError as err:
        report = mismatch_report(module, state_dict) or str(err)
        raise ValueError(
            f'{source} does not fit the model ({type(module).__name__}): '
            f'{report}. Is it a checkpoint of another arch or task? Convert '
            f'official releases with tools/model_converters first.') from err
