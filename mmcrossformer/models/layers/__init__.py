from .fused_ffn import can_fuse, ffn_forward

__all__ = ['can_fuse', 'ffn_forward']
