from .checkpoint import is_trusted, load_local_checkpoint, trust_work_dir
from .runtime import flush_denormals_on_cpu

__all__ = [
    'trust_work_dir', 'is_trusted', 'load_local_checkpoint',
    'flush_denormals_on_cpu'
]
