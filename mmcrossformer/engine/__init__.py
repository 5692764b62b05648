from .hooks import RandomStateHook
from .optim_wrapper import CPUAutocastOptimWrapper

__all__ = ['CPUAutocastOptimWrapper', 'RandomStateHook']
