"""A progress bar for training, validation and test runs.

mmengine's Runner reports progress only through its log lines (every
``LoggerHook.interval`` iterations). :class:`ProgressBarHook` adds
mmengine's own :class:`~mmengine.utils.ProgressBar` over the iterations of
each loop, redrawn in place after every iteration, with the rate and the
time left. Log lines still appear: each one starts on a fresh line and the
bar continues below it.
"""
import logging
import sys
from typing import Optional

from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.utils import ProgressBar

from mmcrossformer.registry import HOOKS


class _NewlineBeforeLog(logging.Filter):
    """Ends the bar's line before a log record is written."""

    def __init__(self, hook: 'ProgressBarHook'):
        super().__init__()
        self.hook = hook

    def filter(self, record: logging.LogRecord) -> bool:
        self.hook.end_line()
        return True


@HOOKS.register_module()
class ProgressBarHook(Hook):
    """Show a progress bar over the iterations of each loop.

    One bar for the training iterations left (``runner.max_iters -
    runner.iter``, so a resumed run counts what remains), and one for each
    validation or test pass (its dataloader's length). Only rank 0 draws.

    Args:
        bar_width (int): Width of the bar in characters. Defaults to 30.

    Raises:
        ValueError: If ``bar_width`` is not a positive integer.

    Example:
        >>> custom_hooks = [dict(type='mmcrossformer.ProgressBarHook')]
    """

    # before LoggerHook (BELOW_NORMAL), so a log line follows its iteration
    priority = 'NORMAL'

    def __init__(self, bar_width: int = 30):
        if not isinstance(bar_width, int) or bar_width <= 0:
            raise ValueError(
                f'bar_width must be a positive integer, got {bar_width!r}')
        self.bar_width = bar_width
        self._bars = {}
        self._dirty = False
        self._filter: Optional[_NewlineBeforeLog] = None

    def end_line(self) -> None:
        """Move to a new line if a bar was drawn on the current one."""
        if self._dirty:
            sys.stdout.write('\n')
            sys.stdout.flush()
            self._dirty = False

    def _start(self, runner, mode: str, total: int) -> None:
        if get_rank() != 0 or total <= 0:
            return
        if self._filter is None:
            self._filter = _NewlineBeforeLog(self)
            for handler in runner.logger.handlers:
                if isinstance(handler, logging.StreamHandler) and not \
                        isinstance(handler, logging.FileHandler):
                    handler.addFilter(self._filter)
        self.end_line()
        self._bars[mode] = ProgressBar(total, self.bar_width, file=sys.stdout)
        self._dirty = True

    def _update(self, mode: str) -> None:
        bar = self._bars.get(mode)
        if bar is not None and bar.completed < bar.task_num:
            bar.update()
            self._dirty = True

    def _stop(self, mode: str) -> None:
        if self._bars.pop(mode, None) is not None:
            self.end_line()

    def before_train(self, runner) -> None:
        self._start(runner, 'train', runner.max_iters - runner.iter)

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None) -> None:
        self._update('train')

    def after_train(self, runner) -> None:
        self._stop('train')

    def before_val_epoch(self, runner) -> None:
        self._start(runner, 'val', len(runner.val_dataloader))

    def after_val_iter(self, runner, batch_idx, data_batch=None,
                       outputs=None) -> None:
        self._update('val')

    def after_val_epoch(self, runner, metrics=None) -> None:
        self._stop('val')

    def before_test_epoch(self, runner) -> None:
        self._start(runner, 'test', len(runner.test_dataloader))

    def after_test_iter(self, runner, batch_idx, data_batch=None,
                        outputs=None) -> None:
        self._update('test')

    def after_test_epoch(self, runner, metrics=None) -> None:
        self._stop('test')
