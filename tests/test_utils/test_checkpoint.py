import pickle

import numpy as np
import pytest
import torch
from mmengine.runner.checkpoint import CheckpointLoader

from mmcrossformer.utils import is_trusted, trust_work_dir


def _save(path):
    torch.save({'state_dict': {'w': torch.ones(2)},
                'message_hub': {'log': np.arange(3)}}, path)


def test_trust_by_source(tmp_path):
    run = tmp_path / 'run'
    other = tmp_path / 'downloads'
    run.mkdir(), other.mkdir()
    _save(run / 'epoch_1.pth')
    _save(other / 'weights.pth')
    trust_work_dir(str(run))
    assert is_trusted(str(run / 'epoch_1.pth'))
    assert not is_trusted(str(other / 'weights.pth'))
    ckpt = CheckpointLoader.load_checkpoint(str(run / 'epoch_1.pth'))
    assert ckpt['message_hub']['log'].tolist() == [0, 1, 2]
    with pytest.raises(pickle.UnpicklingError, match='weights_only=True'):
        CheckpointLoader.load_checkpoint(str(other / 'weights.pth'))
    # plain weights load from anywhere
    torch.save({'w': torch.zeros(1)}, other / 'plain.pth')
    assert 'w' in CheckpointLoader.load_checkpoint(str(other / 'plain.pth'))
    # a folder that mmengine marked as a work_dir is trusted too
    (other / 'last_checkpoint').write_text(str(other / 'weights.pth'))
    assert is_trusted(str(other / 'weights.pth'))
    with pytest.raises(FileNotFoundError, match='missing.pth'):
        CheckpointLoader.load_checkpoint(str(other / 'missing.pth'))
