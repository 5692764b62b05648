from ..models.utils.layer_depth import find_layer_depth
from .hooks import LoadCheckpointHook, ProgressBarHook, RandomStateHook
from .optimizers import (
    OPTIM_WRAPPER_CONSTRUCTORS,
    CPUAutocastOptimWrapper,
    build_layer_decay_constructor,
)

__all__ = [
    'CPUAutocastOptimWrapper', 'LoadCheckpointHook', 'RandomStateHook',
    'OPTIM_WRAPPER_CONSTRUCTORS', 'ProgressBarHook',
    'build_layer_decay_constructor',
    'find_layer_depth'
]
