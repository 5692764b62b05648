from .optim_wrapper import CPUAutocastOptimWrapper

__all__ = ['CPUAutocastOptimWrapper']
