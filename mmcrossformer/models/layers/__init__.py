from .acl import AmplitudeCoolingLayer
from .cel import CrossScaleEmbedding
from .dpb import DynamicPositionBias, relative_position_tables
from .fused_ffn import build_ffn, can_fuse, ffn_forward
from .lsda import (
    PAD_MASK_VALUE,
    LSDAttention,
    group_tokens,
    padding_key_mask,
    ungroup_tokens,
)

__all__ = [
    'AmplitudeCoolingLayer',
    'CrossScaleEmbedding',
    'DynamicPositionBias',
    'LSDAttention',
    'PAD_MASK_VALUE',
    'build_ffn',
    'can_fuse',
    'ffn_forward',
    'group_tokens',
    'padding_key_mask',
    'relative_position_tables',
    'ungroup_tokens',
]
