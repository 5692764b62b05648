from .transforms import AlignResize

__all__ = ['AlignResize']
