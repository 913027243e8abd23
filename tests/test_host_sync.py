"""The loop asks nothing of the device between logging steps: a step that does not log makes no
call that would make the host wait for a GPU (issue 17). Counted over a real run of the entry
point, batch by batch, with the logging steps as the control that the count sees such calls. Adam
is fused (models/base.py), so it reads no step counter back from the host either."""

import pytest

from conftest import run_cli


# one G step per batch; five critic steps (batches) per G step and a gradient penalty
@pytest.mark.parametrize("model, log_every", [("dcgan", 4), ("wgan_gp", 2)])
def test_a_step_that_does_not_log_makes_no_host_sync(tmp_path, model, log_every):
    from helpers.probes import HostSyncs

    HostSyncs.batches = []
    run_cli(f"model={model}", "net.g_features=4", "net.d_features=4", "data.batch_size=8", "trainer.max_epochs=1",
            "trainer.limit_train_batches=30", f"trainer.log_every_n_steps={log_every}", "callbacks.metrics.feature=null",
            "+callbacks.probe._target_=helpers.probes.HostSyncs", "hydra.run.dir=run", cwd=tmp_path)
    quiet = [(step, calls) for step, logged, calls in HostSyncs.batches[:-1] if not logged]
    loud = [(step, calls) for step, logged, calls in HostSyncs.batches if logged]
    assert len(quiet) >= 20 and len(loud) >= 2
    assert [(step, calls) for step, calls in quiet if calls] == []
    assert all(calls for _, calls in loud)  # the counter sees the values Lightning reads when it writes
