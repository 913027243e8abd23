"""channels_last=true (the default): the convolutions' weights train in NHWC memory order, the
checkpoint reads back anywhere (the sampling CLI, a run with it off), and a run may resume with
it switched either way; channels_last=false keeps PyTorch's NCHW order."""

import pytest
import torch
import yaml

from conftest import run_cli

TINY = ("model=dcgan", "net.g_features=4", "net.d_features=4", "trainer.max_epochs=1", "trainer.limit_train_batches=3",
        "trainer.enable_progress_bar=false", "callbacks.metrics.feature=null", "data.batch_size=8")


def conv_weights(run_dir) -> dict[str, torch.Tensor]:
    """The checkpoint's 4-D weights of more than one input channel (where NCHW and NHWC differ),
    with the strides they trained with (torch.save keeps them)."""
    state = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
    return {key: value for key, value in state.items() if torch.is_tensor(value) and value.dim() == 4
            and value.shape[1] > 1 and value.shape[2:] != (1, 1)}


def test_the_nets_train_in_nhwc_order_and_resume_in_nchw_order(tmp_path):
    run_cli(*TINY, "hydra.run.dir=run", cwd=tmp_path)  # the default: channels_last=true
    run_dir = tmp_path / "run"
    weights = conv_weights(run_dir)
    assert {key.split(".")[0] for key in weights} == {"generator", "discriminator"}
    assert all(w.is_contiguous(memory_format=torch.channels_last) and not w.is_contiguous() for w in weights.values())

    run_cli(f"resume={run_dir}", "trainer.max_epochs=2", "channels_last=false", cwd=tmp_path)
    resumed = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)
    assert resumed["state_dict"]["_extra_state"]["generator_steps"] == 6
    assert all(w.is_contiguous() for w in conv_weights(run_dir).values())
    # what the run records says what trained last (Lightning would keep the first part's hparams.yaml)
    recorded = yaml.safe_load((run_dir / "tensorboard" / "hparams.yaml").read_text())
    assert recorded["channels_last"] is False and recorded["trainer"]["max_epochs"] == 2
    run_cli(f"ckpt={run_dir / 'checkpoints' / 'last.ckpt'}", "n=4", f"out={tmp_path / 'grid.png'}", cwd=tmp_path,
            module="gan_lightning.sample")
    assert (tmp_path / "grid.png").is_file()


def test_the_ema_generator_is_nhwc_too_and_its_checkpoint_samples(tmp_path):
    run_cli(*TINY, "model.ema_decay=0.9", "hydra.run.dir=run", cwd=tmp_path)
    run_dir = tmp_path / "run"
    ema = {key: w for key, w in conv_weights(run_dir).items() if key.startswith("generator_ema.")}
    assert ema and all(w.is_contiguous(memory_format=torch.channels_last) for w in ema.values())
    run_cli(f"ckpt={run_dir / 'checkpoints' / 'last.ckpt'}", "n=4", f"out={tmp_path / 'grid.png'}", cwd=tmp_path,
            module="gan_lightning.sample")
    assert (tmp_path / "grid.png").is_file()


@pytest.mark.parametrize("saved_nhwc", [False, True])
def test_adam_moments_saved_in_the_other_order_step_the_weights_as_before(saved_nhwc):
    # resume channels_last=<switched>: the checkpoint's moments come in the other memory order, which
    # torch's fused CPU Adam would pair with the wrong elements
    from gan_lightning.models.base import adam

    def layout(tensor, nhwc):
        return tensor.contiguous(memory_format=torch.channels_last if nhwc else torch.contiguous_format)

    grads = torch.Generator().manual_seed(1)
    start = torch.nn.Parameter(torch.randn(16, 8, 4, 4, generator=grads))
    before = adam([start], lr=1e-3, betas=(0.5, 0.999))
    for _ in range(3):
        start.grad = torch.randn(16, 8, 4, 4, generator=grads)
        before.step()
    saved = before.state_dict()
    steps = [torch.randn(16, 8, 4, 4, generator=grads) for _ in range(5)]
    weights = []
    for nhwc, optimizer in ((saved_nhwc, lambda w: torch.optim.Adam(w, lr=1e-3, betas=(0.5, 0.999), foreach=False)),
                            (not saved_nhwc, lambda w: adam(w, lr=1e-3, betas=(0.5, 0.999)))):
        weight = torch.nn.Parameter(layout(start.detach().clone(), nhwc))
        resumed = optimizer([weight])
        resumed.load_state_dict({**saved, "state": {0: {key: layout(value.clone(), saved_nhwc) if value.dim() == 4 else value.clone()
                                                        for key, value in saved["state"][0].items()}}})
        for grad in steps:
            weight.grad = layout(grad, nhwc)
            resumed.step()
        weights.append(weight.detach().contiguous())
    assert torch.allclose(weights[0], weights[1], atol=1e-6)
