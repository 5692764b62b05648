"""``load_from`` and ``tools/test.py`` checkpoints: official files as
released, and no silent partial load."""
from typing import Sequence

from mmengine.hooks import Hook
from mmengine.logging import MMLogger
from mmengine.model import is_model_wrapper

from mmcrossformer.models.utils.ckpt_load import (
    head_shape_mismatches,
    model_state,
)
from mmcrossformer.registry import HOOKS
from mmcrossformer.utils.state_dict import key_mismatches, mismatch_report


def _plain_model(model):
    """The classifier / detector / segmentor inside DDP and TTA wrappers."""
    while is_model_wrapper(model) or (hasattr(model, 'module') and hasattr(
            model.module, 'backbone')):
        model = model.module
    return model


@HOOKS.register_module()
class LoadCheckpointHook(Hook):
    """Recognise, convert and check the checkpoint the Runner loads.

    mmengine's ``Runner.load_checkpoint`` (``load_from``, ``tools/test.py
    CONFIG CKPT``) loads with ``strict=False``: a file of another arch or
    task loads in part, with a warning at most, and an official file as
    released (cheerss/CrossFormer ``{'model': ...}`` or mmdet 2.x / mmseg
    0.x checkpoints, IBM/CrossViT or timm files) would not load at all. In
    ``after_load_checkpoint`` this hook

    * converts an official file in memory
      (:func:`~mmcrossformer.models.utils.ckpt_load.model_state`; one log
      line says what it recognised) and refuses one of another family, arch
      or task with a ``ValueError`` naming the file, what it holds and what
      the config builds;
    * checks that every key of the model is in the checkpoint with its
      shape, and that the checkpoint has no other keys. The one exception
      is fine-tuning: while training from ``load_from`` (not resuming),
      keys outside the backbone whose shapes differ (a head's class count)
      are left out with a warning that lists them, as mmdet users expect.

    :mod:`mmcrossformer.utils.cli` adds it to every run of
    ``tools/train.py`` / ``tools/test.py``; a script of one's own adds
    ``custom_hooks=[dict(type='mmcrossformer.LoadCheckpointHook')]``.

    Args:
        unused_keys (Sequence[str]): Prefixes of checkpoint entries that
            the config's model leaves out on purpose (``tools/test.py
            --tta`` drops Mask R-CNN's mask head); they are not loaded, and
            a log line counts them. Defaults to ().

    Raises:
        ValueError: From ``after_load_checkpoint``, see above.
    """

    priority = 'VERY_HIGH'

    def __init__(self, unused_keys: Sequence[str] = ()):
        self.unused_keys = tuple(unused_keys)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        resuming = bool(runner._resume)
        source = str(runner._load_from) if runner._load_from else 'checkpoint'
        model = _plain_model(runner.model)
        state = model_state(checkpoint, model, source)
        unused = [k for k in state if k.startswith(self.unused_keys)]
        for key in unused:
            del state[key]
        if unused:
            MMLogger.get_current_instance().info(
                f'{source}: {len(unused)} entries of {self.unused_keys} are '
                f'not used by this model')
        missing, unexpected, _ = key_mismatches(model, state)
        training = not isinstance(runner._train_loop, (dict, type(None)))
        skipped = []
        if training and not resuming and not missing and not unexpected:
            skipped = [
                entry.split(':')[0]
                for entry in head_shape_mismatches(model, state)
            ]
        # CrossViT's load hook resizes position embeddings of another grid;
        # the skipped head entries are reported below, not as wrong shapes
        report = mismatch_report(
            model, state, resizable=('.pos_embeds.', *skipped))
        if report:
            raise ValueError(
                f'{source} does not fit the model ({type(model).__name__}): '
                f'{report}. Is it a checkpoint of another arch or task?')
        if skipped:
            MMLogger.get_current_instance().warning(
                f'{source}: fine-tuning; {len(skipped)} head entries of '
                f'another shape are not loaded (checkpoint vs model): '
                f'{head_shape_mismatches(model, state)}')
            for key in skipped:
                del state[key]
        checkpoint.pop('model', None)
        checkpoint['state_dict'] = state
