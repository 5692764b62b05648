from .load_checkpoint_hook import LoadCheckpointHook
from .progress_bar_hook import ProgressBarHook
from .random_state_hook import (
    RandomStateHook,
    capture_random_states,
    restore_random_states,
)

__all__ = [
    'LoadCheckpointHook', 'ProgressBarHook', 'RandomStateHook',
    'capture_random_states', 'restore_random_states'
]
