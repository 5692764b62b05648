"""ProgressBarHook through mmengine's real Runner: the bar counts every
training / validation iteration, and log lines start on a fresh line."""
import re

import pytest
import torch
import torch.nn as nn
from mmengine.evaluator import BaseMetric
from mmengine.model import BaseModel
from mmengine.runner import Runner

from mmcrossformer.engine import ProgressBarHook


class _Toy(BaseModel):

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(2, 1)

    def forward(self, inputs, targets, mode='tensor'):
        out = self.linear(inputs)
        if mode == 'loss':
            return dict(loss=((out - targets)**2).mean())
        return [dict(err=float(e)) for e in (out - targets)]


class _MeanErr(BaseMetric):

    def process(self, data_batch, data_samples):
        self.results.extend(d['err'] for d in data_samples)

    def compute_metrics(self, results):
        return dict(mean_err=sum(results) / len(results))


def _loader(n):
    data = [
        dict(inputs=torch.tensor([i, 1.]), targets=torch.tensor([2. * i]))
        for i in range(n)
    ]
    return dict(
        dataset=data,
        sampler=dict(type='DefaultSampler', shuffle=False),
        collate_fn=dict(type='default_collate'),
        batch_size=2)


def test_bar_counts_iterations_and_logs_start_on_new_lines(tmp_path, capsys):
    runner = Runner(
        model=_Toy(),
        work_dir=str(tmp_path),
        train_dataloader=_loader(6),
        val_dataloader=_loader(4),
        val_evaluator=[_MeanErr()],
        train_cfg=dict(by_epoch=True, max_epochs=2, val_interval=2),
        val_cfg=dict(),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01)),
        default_hooks=dict(logger=dict(type='LoggerHook', interval=2)),
        custom_hooks=[dict(type='mmcrossformer.ProgressBarHook')],
        default_scope='mmcrossformer')
    runner.train()
    out = capsys.readouterr().out
    # 2 epochs x 3 batches of training, then 2 validation batches
    assert re.search(r'\] 6/6, ', out), out
    assert re.search(r'\] 2/2, ', out), out
    assert not re.search(r'\] 7/6', out)
    logs = 0
    for line in out.split('\n'):
        # the bar is redrawn in place ('\r'); a log line must not be
        # appended to a bar on the same line
        if ' - mmengine - ' in line:
            logs += 1
            assert re.match(r'\d\d/\d\d \d\d:\d\d:\d\d - mmengine',
                            line.split('\r')[-1]), repr(line)
    assert logs >= 4


def test_bad_width():
    with pytest.raises(ValueError, match='bar_width must be a positive'):
        ProgressBarHook(bar_width=0)
