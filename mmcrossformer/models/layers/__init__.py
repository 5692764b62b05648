from .fused_ffn import build_ffn, can_fuse, ffn_forward

__all__ = ['build_ffn', 'can_fuse', 'ffn_forward']
