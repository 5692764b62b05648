"""Shared pieces of the embedded demo sets: photo backgrounds and shapes.

Backgrounds are crops of the photographs that scikit-image ships; objects
are flat-coloured polygons with a white outline. Each shape kind is an
easily learnable class: the real-data demo sets use three (an octagon, a
disc and a diamond); sets with their own class names (the fine-tuning
examples) take the kinds of :data:`KIND_ORDER` in order, up to six.
"""
import math
from typing import List, Sequence, Tuple

import numpy as np

PHOTOS = ('astronaut', 'coffee', 'chelsea', 'rocket', 'camera', 'coins',
          'page', 'moon', 'text')
# shape kind -> (number of polygon vertices, base RGB colour, base rotation)
SHAPE_KINDS = {
    'octagon': (8, (200, 20, 30), math.pi / 8),
    'disc': (32, (250, 150, 20), 0.0),
    'diamond': (4, (30, 80, 220), 0.0),
    'triangle': (3, (40, 170, 60), -math.pi / 2),
    'hexagon': (6, (150, 40, 170), 0.0),
    'square': (4, (20, 190, 200), math.pi / 4),
}
# the kinds given to the classes of a set with its own class names, in order
KIND_ORDER = ('octagon', 'disc', 'diamond', 'triangle', 'hexagon', 'square')

_PHOTO_CACHE: List[np.ndarray] = []


def photos() -> List[np.ndarray]:
    """The scikit-image photographs as (H, W, 3) uint8 arrays (cached)."""
    if not _PHOTO_CACHE:
        from skimage import data
        for name in PHOTOS:
            img = np.asarray(getattr(data, name)())
            if img.ndim == 2:
                img = np.stack([img] * 3, axis=-1)
            _PHOTO_CACHE.append(
                np.ascontiguousarray(img[..., :3]).astype(np.uint8))
    return _PHOTO_CACHE


def background(rng: np.random.Generator, width: int, height: int):
    """A random crop of a random photo, resized to (width, height) (PIL)."""
    from PIL import Image
    pool = photos()
    photo = pool[rng.integers(len(pool))]
    ph, pw = photo.shape[:2]
    scale = rng.uniform(0.4, 1.0)
    ch = min(ph, int(round(height / scale)))
    cw = min(pw, int(round(width / scale)))
    y0 = rng.integers(0, ph - ch + 1)
    x0 = rng.integers(0, pw - cw + 1)
    crop = Image.fromarray(photo[y0:y0 + ch, x0:x0 + cw])
    return crop.resize((width, height), Image.BILINEAR)


def shape_polygon(kind: str, center: Tuple[float, float], radius: float,
                  rng: np.random.Generator) -> List[Tuple[float, float]]:
    """Vertices of a ``kind`` shape, slightly randomly rotated."""
    vertices, _, rotation = SHAPE_KINDS[kind]
    rotation += float(rng.uniform(-0.15, 0.15))
    cx, cy = center
    return [(cx + radius * math.cos(rotation + 2 * math.pi * k / vertices),
             cy + radius * math.sin(rotation + 2 * math.pi * k / vertices))
            for k in range(vertices)]


def shape_colour(kind: str, rng: np.random.Generator) -> Tuple[int, int, int]:
    """The kind's colour with a small random jitter."""
    base = SHAPE_KINDS[kind][1]
    jitter = rng.integers(-25, 26, size=3)
    return tuple(int(np.clip(c + j, 0, 255)) for c, j in zip(base, jitter))


def place_circles(rng: np.random.Generator, width: int, height: int,
                  count: int, min_frac: float,
                  max_frac: float) -> List[Tuple[float, float, float]]:
    """Up to ``count`` non-overlapping (cx, cy, radius) inside the image."""
    placed: List[Tuple[float, float, float]] = []
    for _ in range(count):
        for _attempt in range(20):
            radius = float(
                rng.uniform(min_frac, max_frac) * min(width, height))
            cx = float(rng.uniform(radius, width - radius))
            cy = float(rng.uniform(radius, height - radius))
            if all(math.hypot(cx - x, cy - y) > radius + r + 2
                   for x, y, r in placed):
                placed.append((cx, cy, radius))
                break
    return placed


def polygon_area(points: Sequence[Tuple[float, float]]) -> float:
    """Shoelace area of a polygon in pixels^2."""
    xs = np.array([p[0] for p in points])
    ys = np.array([p[1] for p in points])
    return float(0.5 * abs(np.dot(xs, np.roll(ys, 1)) -
                           np.dot(ys, np.roll(xs, 1))))


def check_counts(size: Tuple[int, int], min_side: int, **counts: int):
    """Validate image counts and size of a demo set.

    Raises:
        ValueError: naming the bad value.
    """
    for name, value in counts.items():
        if value < 1:
            raise ValueError(f'{name} must be positive, got {value}')
    if min(size) < min_side:
        raise ValueError(f'size must be at least {min_side}x{min_side} '
                         f'pixels, got {tuple(size)}')


def kinds_for(classes, reserved: int = 0) -> dict:
    """{class name: shape kind} for a set with its own class names.

    The first ``reserved`` names get no shape (e.g. a segmentation set's
    background class, drawn by the photo); the others take the kinds of
    :data:`KIND_ORDER` in order.

    Raises:
        ValueError: If the names are not unique strings, or more than
            ``len(KIND_ORDER)`` classes need a shape.
    """
    classes = list(classes)
    if not classes or len(set(classes)) != len(classes) or not all(
            isinstance(c, str) and c for c in classes):
        raise ValueError(f'classes must be unique non-empty names, got '
                         f'{classes!r}')
    shaped = classes[reserved:]
    if len(shaped) > len(KIND_ORDER):
        raise ValueError(f'at most {len(KIND_ORDER)} classes can be drawn '
                         f'as shapes ({", ".join(KIND_ORDER)}), got '
                         f'{len(shaped)}: {shaped!r}')
    return dict(zip(shaped, KIND_ORDER))
