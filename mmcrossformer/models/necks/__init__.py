from .crossvit_pyramid import CrossViTPyramid

__all__ = ['CrossViTPyramid']
