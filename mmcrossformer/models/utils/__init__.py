"""Helpers shared by the backbones that are not modules themselves."""
from .ckpt_convert import crossformer_converter, crossvit_converter
from .layer_depth import (
    crossformer_layer_depth,
    crossvit_layer_depth,
    find_layer_depth,
)

__all__ = [
    'crossformer_layer_depth', 'crossvit_layer_depth',
    'crossformer_converter', 'crossvit_converter', 'find_layer_depth'
]
