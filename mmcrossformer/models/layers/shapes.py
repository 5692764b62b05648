"""Shape arithmetic and checks that the layers and backbones share.

``ceil_div`` and ``pad_to_multiple`` are written so that they also work on
the symbolic sizes of ``torch.compile`` / ``torch.export``; see
:func:`pad_always` for why padding is unconditional while tracing
(docs/en/backbones.md, "torch.compile").
"""
import torch


def ceil_div(a: int, b: int) -> int:
    """``ceil(a / b)`` for positive ints (also symbolic ones)."""
    return (a + b - 1) // b


def pad_to_multiple(size: int, multiple: int) -> int:
    """How much to add to ``size`` to reach a multiple of ``multiple``.

    ``ceil(size / multiple) * multiple - size``: a simpler symbolic
    expression than ``(-size) % multiple`` for torch.compile with dynamic
    shapes.
    """
    return ceil_div(size, multiple) * multiple - size


def pad_always() -> bool:
    """Whether padding and padding masks are applied even when nothing is
    padded (zero pads, an all-False mask).

    True while ``torch.compile`` traces: a Python branch on "is the map a
    multiple of the group grid" would become a guard of the compiled graph,
    and with dynamic shapes every input size that takes the other branch
    would recompile. Applying them unconditionally gives the same values
    (padding by 0 copies, an all-False mask adds 0 to the attention bias),
    so one graph serves all sizes. False in eager mode, where padding and
    the mask are applied only when something is padded.
    """
    return torch.compiler.is_compiling()


def check_heads(embed_dims: int, num_heads: int, where: str = '') -> None:
    """Check that ``num_heads`` >= 1 divides ``embed_dims``.

    Args:
        embed_dims (int): Channels C.
        num_heads (int): Attention heads.
        where (str): Where the pair comes from, for the message (e.g.
            ``' of stage 2'``). Defaults to ``''``.

    Raises:
        ValueError: Naming both numbers (and ``where``).
    """
    if num_heads < 1 or embed_dims % num_heads:
        raise ValueError(f'num_heads={num_heads}{where} does not divide '
                         f'embed_dims={embed_dims}')


def pad_feature_map(x: torch.Tensor, multiple: int) -> torch.Tensor:
    """Zero-pad a (B, C, H, W) map at the bottom and right to multiples of
    ``multiple``; unchanged when nothing is missing (except while tracing,
    see :func:`pad_always`).

    Returns:
        Tensor: (B, C, ceil(H / m) * m, ceil(W / m) * m).
    """
    pad_h = pad_to_multiple(x.shape[2], multiple)
    pad_w = pad_to_multiple(x.shape[3], multiple)
    if pad_always() or pad_h or pad_w:
        x = torch.nn.functional.pad(x, (0, pad_w, 0, pad_h))
    return x
