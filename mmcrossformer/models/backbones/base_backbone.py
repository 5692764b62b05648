"""What the backbones of this package share: arch lookup, ``out_indices``
validation, train / eval with frozen parts, and weight initialisation."""
import copy
from typing import Dict, Optional, Sequence, Tuple, Union

import torch.nn as nn
from mmengine.logging import MMLogger
from mmengine.model import BaseModule
from mmengine.model.weight_init import constant_init, trunc_normal_init
from torch.nn.modules.batchnorm import _BatchNorm


class ArchBackbone(BaseModule):
    """Base of the CrossFormer and CrossViT backbones.

    Subclasses set :attr:`arch_zoo` (names -> settings),
    :attr:`arch_required_keys` and :attr:`arch_defaults` (the optional keys
    of a custom arch dict), and implement :meth:`_freeze_stages`; they may
    extend :meth:`_default_init`.
    """
    arch_zoo: Dict[str, dict] = {}
    arch_required_keys: Tuple[str, ...] = ()
    arch_defaults: Dict[str, object] = {}

    @classmethod
    def _lookup_arch(cls, arch: Union[str, dict]) -> dict:
        """A copy of the named or custom arch merged with the defaults.

        Raises:
            ValueError: For an unknown name (the valid ones are listed) or a
                dict with missing or unknown keys.
            TypeError: If ``arch`` is neither a str nor a dict.
        """
        name = cls.__name__
        if isinstance(arch, str):
            key = arch.lower()
            if key not in cls.arch_zoo:
                raise ValueError(
                    f'Unknown {name} arch {arch!r}; valid names are '
                    f'{sorted(cls.arch_zoo)} or a dict with keys '
                    f'{list(cls.arch_required_keys)}')
            arch = cls.arch_zoo[key]
        elif not isinstance(arch, dict):
            raise TypeError(f'arch must be a str or dict, got {type(arch)}')
        missing = [k for k in cls.arch_required_keys if k not in arch]
        if missing:
            raise ValueError(f'Custom {name} arch misses the keys '
                             f'{missing}; it has {sorted(arch)}')
        unknown = set(arch) - set(cls.arch_required_keys) - set(
            cls.arch_defaults)
        if unknown:
            raise ValueError(f'Custom {name} arch has unknown keys '
                             f'{sorted(unknown)}')
        return {**copy.deepcopy(cls.arch_defaults), **copy.deepcopy(arch)}

    @staticmethod
    def _normalize_indices(indices: Union[int, Sequence[int]], count: int,
                           what: str) -> Tuple[int, ...]:
        """Sorted non-negative ``out_indices`` (negatives count from the end).

        Raises:
            ValueError: For an entry outside ``[-count, count - 1]``.
        """
        if isinstance(indices, int):
            indices = [indices]
        result = []
        for index in indices:
            if not -count <= index < count:
                raise ValueError(
                    f'out_indices entry {index} is out of range for {count} '
                    f'{what} (valid: {-count}..{count - 1})')
            result.append(index % count)
        return tuple(sorted(set(result)))

    def _freeze_stages(self):
        raise NotImplementedError

    def _default_init(self):
        """Linear layers trunc-normal(0.02) with zero bias, norms 1 / 0."""
        for m in self.modules():
            if isinstance(m, nn.Linear):
                trunc_normal_init(m, std=.02, bias=0.)
            elif isinstance(m, (nn.LayerNorm, _BatchNorm, nn.GroupNorm)):
                constant_init(m, val=1.0, bias=0.)

    def init_weights(self):
        """Pretrained weights from ``init_cfg``, else :meth:`_default_init`.

        ``init_cfg=dict(type='Pretrained', checkpoint=None)`` means "no
        pretrained weights" and is logged, so configs can expose the path as
        a variable. A Pretrained checkpoint (optionally with ``prefix``) is
        loaded strictly; official files load as released (recognised from
        their keys and converted in memory).

        Raises:
            ValueError: If the checkpoint does not fit (see
                :func:`~mmcrossformer.utils.state_dict.load_state_dict_strict`),
                is an official file of another family or arch, or no key
                starts with ``prefix``.
            pickle.UnpicklingError: If the file holds more than weights
                (see :mod:`mmcrossformer.utils.checkpoint`).
        """
        cfg = self.init_cfg
        if isinstance(cfg, dict) and cfg.get('type') == 'Pretrained':
            if cfg.get('checkpoint'):
                self._load_pretrained(cfg['checkpoint'], cfg.get('prefix'))
            else:
                MMLogger.get_current_instance().warning(
                    f'{type(self).__name__}: no pretrained checkpoint given '
                    f'(init_cfg.checkpoint is empty); training from scratch '
                    f'with the default trunc-normal initialisation.')
                self._default_init()
        elif cfg is None:
            self._default_init()
        else:
            super().init_weights()
            return
        self._is_init = True

    def _load_pretrained(self, checkpoint: str, prefix: Optional[str]):
        """Load ``checkpoint`` (a path or URL; this project's file or an
        official one as released, see
        :func:`~mmcrossformer.models.utils.ckpt_load.backbone_state`)."""
        from mmengine.runner.checkpoint import _load_checkpoint

        from mmcrossformer.models.utils.ckpt_load import backbone_state
        from mmcrossformer.utils.state_dict import load_state_dict_strict
        ckpt = _load_checkpoint(checkpoint, map_location='cpu')
        if not isinstance(ckpt, dict):
            raise ValueError(f'{checkpoint} holds no state dict but a '
                             f'{type(ckpt).__name__}')
        state = backbone_state(ckpt, self, checkpoint, prefix)
        MMLogger.get_current_instance().info(
            f'{type(self).__name__}: loading pretrained weights from '
            f'{checkpoint}')
        load_state_dict_strict(self, state, checkpoint)

    def train(self, mode: bool = True):
        """Set train / eval mode, keeping frozen parts (and, with
        ``norm_eval``, BatchNorms) in eval mode. Returns ``self``."""
        super().train(mode)
        self._freeze_stages()
        if mode and getattr(self, 'norm_eval', False):
            for m in self.modules():
                if isinstance(m, _BatchNorm):
                    m.eval()
        return self
