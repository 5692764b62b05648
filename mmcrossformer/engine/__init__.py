from ..models.utils.layer_depth import find_layer_depth
from .hooks import LoadCheckpointHook, ProgressBarHook, RandomStateHook
from .layer_decay import (
    OPTIM_WRAPPER_CONSTRUCTORS,
    build_layer_decay_constructor,
)
from .optim_wrapper import CPUAutocastOptimWrapper

__all__ = [
    'CPUAutocastOptimWrapper', 'LoadCheckpointHook', 'RandomStateHook',
    'OPTIM_WRAPPER_CONSTRUCTORS', 'ProgressBarHook',
    'build_layer_decay_constructor',
    'find_layer_depth'
]
