"""Backward passes and optimizer steps skip Lightning's wrappers when nothing listens to their hooks
(models/direct_steps.py): the same weights and step count either way, and a callback that reads
gradients still gets every hook call."""

import torch

from conftest import run_cli

TINY = ("model=gan", "net.g_hidden=[16]", "net.d_hidden=[16]", "data.batch_size=16", "trainer.max_epochs=1",
        "trainer.limit_train_batches=4", "callbacks.metrics.feature=null", "trainer.enable_progress_bar=false",
        "+callbacks.steps._target_=helpers.probes.StepsTaken")


def test_steps_go_direct_unless_a_hook_listens_and_train_the_same_weights(tmp_path):
    from collections import Counter

    from helpers.probes import GradientReader, StepsTaken

    run_cli(*TINY, "hydra.run.dir=direct", cwd=tmp_path)
    direct, direct_steps, direct_weights = StepsTaken.direct, StepsTaken.global_step, StepsTaken.weights
    GradientReader.calls, GradientReader.gradients_ready = Counter(), []
    run_cli(*TINY, "+callbacks.reader._target_=helpers.probes.GradientReader", "hydra.run.dir=hooked", cwd=tmp_path)

    assert direct is True and StepsTaken.direct is False
    assert direct_steps == StepsTaken.global_step == 8  # 4 critic and 4 G steps, counted on both paths
    assert GradientReader.calls == {"on_after_backward": 8, "on_before_optimizer_step": 8}
    assert all(GradientReader.gradients_ready)
    assert direct_weights.keys() == StepsTaken.weights.keys()
    assert all(torch.equal(direct_weights[name], StepsTaken.weights[name]) for name in direct_weights)


def test_mixed_precision_keeps_lightnings_path(tmp_path):
    from helpers.probes import StepsTaken

    run_cli(*TINY, "trainer.precision=bf16-mixed", "hydra.run.dir=run", cwd=tmp_path)
    assert StepsTaken.direct is False and StepsTaken.global_step == 8
