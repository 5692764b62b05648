from .crossformer import CrossFormer
from .crossvit import CrossViT
from .timm_model import TimmModel

__all__ = ['CrossFormer', 'CrossViT', 'TimmModel']
