"""Data transforms of the official CrossFormer recipes that OpenMMLab 2.0
packages do not have."""
import math
from typing import Optional, Tuple, Union

import mmcv
from mmcv.transforms import Resize

from mmcrossformer.registry import TRANSFORMS


@TRANSFORMS.register_module()
class AlignResize(Resize):
    """Keep-ratio resize, then resize again so that both sides are multiples
    of ``size_divisor``.

    The ADE20K test transform of the official CrossFormer segmentation code
    (cheerss/CrossFormer ``segmentation/align_resize.py``, used by
    ``segmentation/configs/_base_/datasets/ade20k*.py``): the image is
    rescaled with its aspect ratio kept to fit ``scale`` (as mmcv's
    ``Resize(keep_ratio=True)``), and the result is then resized (not
    padded) to ``(ceil(h / d) * d, ceil(w / d) * d)``. The whole image thus
    fills an input whose sides the backbone's total stride divides. Two
    interpolations, as the official code does.

    Example: a 375 x 500 (h x w) image with ``scale=(2048, 512)`` becomes
    512 x 683, then 512 x 704.

    Usable in any OpenMMLab 2.0 pipeline as
    ``dict(type='mmcrossformer.AlignResize', scale=(2048, 512))``.

    Required keys: ``img``; optional ``gt_seg_map``, ``gt_bboxes``,
    ``gt_keypoints``. Modified keys: ``img``, ``img_shape``, ``gt_seg_map``
    (nearest), ``gt_bboxes``, ``gt_keypoints``. Added keys: ``scale``,
    ``scale_factor`` (w, h: final over original size), ``keep_ratio``.

    Args:
        scale (int | tuple[int, int], optional): Target (long, short) edge
            bound of the keep-ratio step, e.g. ``(2048, 512)``.
        scale_factor (float | tuple[float, float], optional): Rescale by
            this factor instead of ``scale``.
        size_divisor (int): The aligned sides are multiples of it.
            Defaults to 32.
        interpolation (str): Image interpolation. Defaults to 'bilinear'.
        backend (str): ``'cv2'`` or ``'pillow'``. Defaults to 'cv2'.
        clip_object_border (bool): Clip boxes / keypoints to the image.
            Defaults to True.

    Raises:
        ValueError: If ``size_divisor`` is not a positive int, or neither
            ``scale`` nor ``scale_factor`` is given.
    """

    def __init__(self,
                 scale: Optional[Union[int, Tuple[int, int]]] = None,
                 scale_factor: Optional[Union[float, Tuple[float,
                                                           float]]] = None,
                 size_divisor: int = 32,
                 interpolation: str = 'bilinear',
                 backend: str = 'cv2',
                 clip_object_border: bool = True) -> None:
        if scale is None and scale_factor is None:
            raise ValueError('AlignResize needs scale or scale_factor')
        if not isinstance(size_divisor, int) or size_divisor < 1:
            raise ValueError(f'size_divisor must be a positive int, got '
                             f'{size_divisor!r}')
        super().__init__(
            scale=scale,
            scale_factor=scale_factor,
            keep_ratio=True,
            clip_object_border=clip_object_border,
            backend=backend,
            interpolation=interpolation)
        self.size_divisor = size_divisor

    def _aligned(self, img, interpolation: str):
        d = self.size_divisor
        h, w = img.shape[:2]
        size = (math.ceil(w / d) * d, math.ceil(h / d) * d)
        if size == (w, h):
            return img
        return mmcv.imresize(
            img, size, interpolation=interpolation, backend=self.backend)

    def _resize_img(self, results: dict) -> None:
        if results.get('img', None) is None:
            return
        h, w = results['img'].shape[:2]
        super()._resize_img(results)  # keep-ratio step
        img = self._aligned(results['img'], self.interpolation)
        results['img'] = img
        results['img_shape'] = img.shape[:2]
        results['scale_factor'] = (img.shape[1] / w, img.shape[0] / h)

    def _resize_seg(self, results: dict) -> None:
        if results.get('gt_seg_map', None) is None:
            return
        super()._resize_seg(results)
        results['gt_seg_map'] = self._aligned(results['gt_seg_map'],
                                              'nearest')

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(scale={self.scale}, '
                f'scale_factor={self.scale_factor}, '
                f'size_divisor={self.size_divisor}, '
                f'interpolation={self.interpolation}, '
                f'backend={self.backend})')
