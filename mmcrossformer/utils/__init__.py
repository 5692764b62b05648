from .checkpoint import is_trusted, load_local_checkpoint, trust_work_dir
from .runtime import flush_denormals_on_cpu, setup_amp, setup_cpu_distributed

__all__ = [
    'trust_work_dir', 'is_trusted', 'load_local_checkpoint',
    'flush_denormals_on_cpu', 'setup_amp', 'setup_cpu_distributed'
]
