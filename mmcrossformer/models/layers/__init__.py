from .acl import AmplitudeCoolingLayer
from .attention import MultiheadSelfAttention, TransformerLayer
from .cel import CrossScaleEmbedding
from .cross_attention import CrossAttention, CrossAttentionFusion
from .dpb import DynamicPositionBias, relative_position_tables
from .fused_ffn import build_ffn, can_fuse, ffn_forward
from .lsda import (
    PAD_MASK_VALUE,
    LSDAttention,
    group_tokens,
    padding_key_mask,
    ungroup_tokens,
)
from .patch_embed import CrossViTPatchEmbed
from .pos_embed import resize_pos_embed
from .window_attention import (
    TokenWindows,
    token_windows,
    windowed_self_attention,
)

__all__ = [
    'AmplitudeCoolingLayer',
    'CrossAttention',
    'CrossAttentionFusion',
    'CrossScaleEmbedding',
    'CrossViTPatchEmbed',
    'DynamicPositionBias',
    'LSDAttention',
    'MultiheadSelfAttention',
    'PAD_MASK_VALUE',
    'TokenWindows',
    'TransformerLayer',
    'build_ffn',
    'can_fuse',
    'ffn_forward',
    'group_tokens',
    'padding_key_mask',
    'relative_position_tables',
    'resize_pos_embed',
    'token_windows',
    'ungroup_tokens',
    'windowed_self_attention',
]
