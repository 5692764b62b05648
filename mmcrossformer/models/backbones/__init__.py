from .crossformer import CrossFormer

__all__ = ['CrossFormer']
