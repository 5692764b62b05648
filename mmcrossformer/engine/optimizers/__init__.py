from .builders import OPTIM_WRAPPER_CONSTRUCTORS, build_layer_decay_constructor
from .cpu_autocast_optim_wrapper import (
    CPUAutocastOptimWrapper,
    build_cpu_grad_scaler,
    fp32_mmcv_ops,
)

__all__ = [
    'CPUAutocastOptimWrapper', 'OPTIM_WRAPPER_CONSTRUCTORS',
    'build_cpu_grad_scaler', 'build_layer_decay_constructor', 'fp32_mmcv_ops'
]
