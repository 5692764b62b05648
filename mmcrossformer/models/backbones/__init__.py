from .crossformer import CrossFormer
from .crossvit import CrossViT

__all__ = ['CrossFormer', 'CrossViT']
