from .checkpoint import is_trusted, load_local_checkpoint, trust_work_dir

__all__ = ['trust_work_dir', 'is_trusted', 'load_local_checkpoint']
