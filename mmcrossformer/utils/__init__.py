from .checkpoint import (
    is_trusted,
    load_local_checkpoint,
    safe_load,
    trust_file,
)
from .compat import installed_stack, is_onedl, register_config_packages
from .runtime import flush_denormals_on_cpu, setup_amp, setup_cpu_distributed

__all__ = [
    'trust_file', 'is_trusted', 'safe_load', 'load_local_checkpoint',
    'flush_denormals_on_cpu', 'setup_amp', 'setup_cpu_distributed',
    'installed_stack', 'is_onedl', 'register_config_packages'
]
