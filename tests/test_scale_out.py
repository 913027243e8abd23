"""Sweeps, DDP, mixed precision and cluster configs (CPU; GPU-only checks skip without CUDA)."""

import copy
from pathlib import Path

import pytest
import torch
import yaml
from hydra import compose, initialize_config_module
from omegaconf import OmegaConf

from conftest import MLP, fit, read_scalars, run_cli
from gan_lightning.cluster.distributed import gan_strategy
from gan_lightning.models import DCGAN, GAN, WGAN, WGANGP, RpGAN

HELPERS = Path(__file__).parent / "helpers"
SHORT = ("trainer.max_epochs=1", "trainer.limit_train_batches=4", "callbacks.metrics.num_samples=128")


def test_lr_beta1_sweep_gives_four_runs_side_by_side(tmp_path):
    sweep = tmp_path / "sweep"
    proc = run_cli("-m", "model=dcgan", "model.lr=1e-4,2e-4", "model.beta1=0.0,0.5", "net.g_features=8",
                   "net.d_features=8", "trainer.log_every_n_steps=1", *SHORT, f"hydra.sweep.dir={sweep}", cwd=tmp_path)
    jobs = sorted(p for p in sweep.iterdir() if p.is_dir() and not p.name.startswith("."))
    assert len(jobs) == 4
    seen = set()
    for job in jobs:
        assert len(list((job / "tensorboard").glob("events.out.tfevents.*"))) == 1
        assert (job / "checkpoints" / "last.ckpt").is_file()
        hp = yaml.safe_load((job / "tensorboard" / "hparams.yaml").read_text())
        seen.add((hp["lr"], hp["beta1"]))
        assert {"hp_metric", "val/fid"} <= set(read_scalars(job / "tensorboard"))
    assert seen == {(1e-4, 0.0), (1e-4, 0.5), (2e-4, 0.0), (2e-4, 0.5)}
    assert "it/s" not in proc.stdout + proc.stderr  # no progress bars flooding a sweep's output


@pytest.mark.slow  # two real processes: Lightning's `ddp` relaunches the command line
@pytest.mark.parametrize("model", ["gan", "rpgan", "r3gan"])
def test_ddp_sim_keeps_ranks_in_sync_with_different_noise(tmp_path, model, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(HELPERS))
    run_dir = tmp_path / "run"
    extra = {
        # R1 + R2 differentiate through D twice, with DiffAugment, spectral norm and the ResNet's
        # class-conditional BatchNorm G and projection D on top
        "rpgan": ["net=resnet", "data.image_size=32", "augment=diffaugment", "net.spectral_norm=true",
                  "net.g_features=16", "net.d_features=16", "conditional=true"],
        # R3GAN's nets with every schedule (lr, beta2, gamma, augmentation p, the EMA's half-life in
        # images of both ranks) and lazy penalties
        "r3gan": ["net.g_widths=[8,8,8,8]", "net.d_widths=[8,8,8,8]", "net.cardinality=2", "data.batch_size=8"],
        # a health alarm that a young D raises at once: both ranks act on rank zero's, one line; ADA's and
        # APA's p from both ranks' signs, LeCam's averages from both ranks' scores
        "gan": ["callbacks.health.warmup_generator_steps=0", "callbacks.health.patience=2",
                "callbacks.health.overpowered_accuracy=0.6", "callbacks.health.overpowered_loss=1.0",
                "trainer.log_every_n_steps=1",
                "augment=ada", "augment.kimg=0.1", "augment.interval=2",
                "reg=[lecam,apa]", "reg.apa.kimg=0.1", "reg.apa.interval=2"],
    }.get(model, [])
    run_cli(f"model={model}", *extra, "trainer=ddp_sim", "trainer.max_epochs=1", "trainer.limit_train_batches=6",
            "callbacks.metrics.num_samples=128",
            "+callbacks.probe._target_=ddp_probe.RankProbe", f"+callbacks.probe.dirpath={run_dir / 'probe'}",
            f"hydra.run.dir={run_dir}", cwd=tmp_path, process=True)
    ranks = [torch.load(run_dir / "probe" / f"rank{r}.pt", weights_only=True) for r in (0, 1)]
    for rank in ranks:
        assert rank["world_size"] == 2
        assert (rank["critic_steps"], rank["generator_steps"]) == (6, 6)
    # gradients were all-reduced for both nets: identical weights on both ranks...
    assert ranks[0]["params"].keys() == ranks[1]["params"].keys()
    if model == "rpgan":  # labelled batches, and the projection's class embedding trained in sync
        assert all(rank["labelled"] for rank in ranks)
        assert "discriminator.embed.parametrizations.weight.original" in ranks[0]["params"]
        assert "generator.blocks.0.norm1.embed.weight" in ranks[0]["params"]  # G's per-class gains and biases
    assert [k for k in ranks[0]["params"] if not torch.equal(ranks[0]["params"][k], ranks[1]["params"][k])] == []
    # ...while each rank drew its own noise
    assert not torch.allclose(ranks[0]["noise"], ranks[1]["noise"])
    # one run directory, written by rank zero only (data/ holds the harness's digit classifier)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "data") == ["run"]
    assert len(list(run_dir.rglob("events.out.tfevents.*"))) == 1
    assert (run_dir / "checkpoints" / "last.ckpt").is_file()
    if model == "gan":
        assert ranks[0]["params"]["augment.steer.units_on"] > 0 and ranks[0]["params"]["pseudo_augment.units_on"] > 0
        assert torch.equal(ranks[0]["lecam"], ranks[1]["lecam"])
        assert ranks[0]["alarms"] == ranks[1]["alarms"] == ["d_overpowers"]
        assert (run_dir / "train.log").read_text().count("Health alarm (d_overpowers)") == 1


@pytest.mark.slow  # ddp_spawn starts two processes per job
def test_sweep_with_relaunching_ddp_is_refused_and_ddp_spawn_works(tmp_path):
    proc = run_cli("-m", "trainer=ddp_sim", "model.lr=1e-4,2e-4", *SHORT, f"hydra.sweep.dir={tmp_path / 's1'}",
                   cwd=tmp_path, check=False)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert "would relaunch the whole sweep" in proc.stderr and "trainer.strategy=ddp_spawn" in proc.stderr

    sweep = tmp_path / "s2"
    run_cli("-m", "trainer=ddp_sim", "trainer.strategy=ddp_spawn", "model.lr=1e-4,2e-4", *SHORT,
            f"hydra.sweep.dir={sweep}", cwd=tmp_path)
    ckpts = sorted(sweep.glob("*/checkpoints/last.ckpt"))
    assert len(ckpts) == 2
    for ckpt in ckpts:
        assert torch.load(ckpt, weights_only=True)["state_dict"]["_extra_state"]["critic_steps"] == 4


@pytest.mark.parametrize("strategy, devices, expected", [
    ("auto", 1, "auto"),
    ("auto", 2, "ddp_find_unused_parameters_true"),
    ("ddp", 1, "ddp_find_unused_parameters_true"),
    ("ddp_spawn", 2, "ddp_spawn_find_unused_parameters_true"),
    ("fsdp", 2, "fsdp"),
])
def test_ddp_strategies_get_find_unused_parameters(strategy, devices, expected):
    cfg = OmegaConf.create({"strategy": strategy, "devices": devices, "accelerator": "cpu", "num_nodes": 1})
    assert gan_strategy(cfg) == expected


@pytest.mark.parametrize("cls", [GAN, DCGAN, WGAN, WGANGP, RpGAN])
def test_bf16_mixed_trains_the_generator(cls):
    model = cls(image_shape=[1, 28, 28], net=MLP, latent_dim=8, n_critic=1)
    before = copy.deepcopy(dict(model.generator.named_parameters()))
    fit(model, batches=3, precision="bf16-mixed")
    assert model.generator_steps == 3
    changed = [not torch.equal(before[k], v) for k, v in model.generator.named_parameters()]
    assert all(changed)  # every G parameter received a gradient (Lightning #19517 starves them)


@pytest.mark.parametrize("precision, dtype", [("bf16-true", torch.bfloat16), ("64-true", torch.float64)])
def test_a_true_precision_trains_evaluates_samples_and_resumes_in_its_dtype(tmp_path, precision, dtype):
    # the nets in bf16 or float64: real batches, the metrics' samples and the sampling CLI's noise follow them
    run_cli("model=dcgan", "net.g_features=4", "net.d_features=4", f"trainer.precision={precision}", *SHORT,
            "hydra.run.dir=run", cwd=tmp_path)
    assert "val/fid" in read_scalars(tmp_path / "run" / "tensorboard")
    weights = torch.load(tmp_path / "run" / "checkpoints" / "last.ckpt", weights_only=False)["state_dict"]
    assert weights["generator.net.0.weight"].dtype == dtype
    run_cli("resume=run", "trainer.max_epochs=2", cwd=tmp_path)
    run_cli("ckpt=run/checkpoints/last.ckpt", "n=4", "out=grid.png", cwd=tmp_path, module="gan_lightning.sample")
    assert (tmp_path / "grid.png").is_file()


def test_a_skipped_fp16_step_keeps_the_schedule(tmp_path):
    from lightning.pytorch.plugins.precision import MixedPrecision

    model = WGANGP(image_shape=[1, 28, 28], net=MLP, latent_dim=8, n_critic=2)
    real_loss, calls = model.discriminator_loss, []

    def first_loss_infinite(real_scores, fake_scores):
        calls.append(1)
        loss = real_loss(real_scores, fake_scores)
        return loss * float("inf") if len(calls) == 1 else loss

    model.discriminator_loss = first_loss_infinite
    d0 = copy.deepcopy(dict(model.discriminator.named_parameters()))
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**10)
    plugin = lambda: [MixedPrecision("16-mixed", "cpu", scaler=scaler)]  # noqa: E731
    fit(model, batches=1, plugins=plugin())
    assert scaler.get_scale() == 2.0**9  # the scaler saw inf gradients and skipped the step
    assert all(torch.equal(d0[k], v) for k, v in model.discriminator.named_parameters())
    assert (model.critic_steps, model.generator_steps) == (1, 0)
    fit(model, batches=3, plugins=plugin())
    assert (model.critic_steps, model.generator_steps) == (4, 2)  # the D/G schedule stayed in step
    assert any(not torch.equal(d0[k], v) for k, v in model.discriminator.named_parameters())


def test_wgan_gp_hands_the_amp_scaler_to_the_penalty(monkeypatch):
    from gan_lightning.objective import penalties

    seen = []
    monkeypatch.setitem(penalties.PENALTIES, "gp", (lambda *a, scaler=None: seen.append(scaler) or torch.tensor(0.0), 1.0))
    model = WGANGP(image_shape=[1, 28, 28], net=MLP, latent_dim=8)
    assert model.grad_scaler is None  # no trainer: fp32
    fake_scaler = object()
    monkeypatch.setattr(WGANGP, "grad_scaler", property(lambda self: fake_scaler))
    model.penalty(torch.zeros(2, 1, 28, 28), torch.zeros(2, 1, 28, 28))
    assert seen == [fake_scaler]


def _compose(*overrides):
    with initialize_config_module("gan_lightning.conf", version_base="1.3"):
        return compose("config", overrides=list(overrides), return_hydra_config=True)


def test_slurm_launcher_config_follows_the_trainer():
    cfg = _compose("hydra/launcher=slurm", "trainer=ddp", "trainer.devices=4", "trainer.num_nodes=2")
    launcher = cfg.hydra.launcher
    assert launcher._target_.endswith("SlurmLauncher")
    assert (launcher.nodes, launcher.gpus_per_node, launcher.tasks_per_node) == (2, 4, 4)


def test_optuna_search_runs_and_reports_the_best_parameters(tmp_path):
    sweep = tmp_path / "search"
    run_cli("-m", "hparams_search=optuna", "hydra.sweeper.n_trials=2", "model=gan", "net.g_hidden=[32]", "net.d_hidden=[32]",
            *SHORT, f"hydra.sweep.dir={sweep}", cwd=tmp_path)
    results = yaml.safe_load((sweep / "optimization_results.yaml").read_text())
    assert set(results["best_params"]) == {"model.lr", "model.beta1", "model.n_critic"}
    assert isinstance(results["best_value"], float)
    assert len(list(sweep.glob("*/checkpoints/last.ckpt"))) == 2


gpu = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@gpu
@pytest.mark.parametrize("precision", ["16-mixed", "bf16-mixed"])
def test_gpu_mixed_precision_wgan_gp(precision):
    model = WGANGP(image_shape=[1, 28, 28], net={"name": "dcgan", "g_features": 16, "d_features": 16}, latent_dim=16)
    before = copy.deepcopy(dict(model.generator.named_parameters()))
    trainer = fit(model, batches=10, accelerator="gpu", devices=1, precision=precision)
    assert (trainer.precision_plugin.scaler is not None) == (precision == "16-mixed")
    assert model.generator_steps == 2
    assert all(not torch.equal(before[k].cuda(), v) for k, v in model.generator.named_parameters())
    assert all(torch.isfinite(p).all() for p in model.parameters())


@gpu
def test_gpu_fp16_mixed_rpgan_r1_r2():
    model = RpGAN(image_shape=[1, 28, 28], net={"name": "dcgan", "g_features": 16, "d_features": 16}, latent_dim=16)
    before = copy.deepcopy(dict(model.generator.named_parameters()))
    trainer = fit(model, batches=6, accelerator="gpu", devices=1, precision="16-mixed", log_every_n_steps=1)
    assert trainer.precision_plugin.scaler is not None and model.generator_steps == 6
    assert all(torch.isfinite(trainer.callback_metrics[f"train/{name}"]) for name in ("r1", "r2"))
    assert all(not torch.equal(before[k].cuda(), v) for k, v in model.generator.named_parameters())


def test_without_an_nvidia_driver_gpu_checks_use_the_runtimes_cached_answer(monkeypatch):
    """Lightning's NVML-based GPU check retries loading NVML at each of Adam's steps where there is none."""
    import os

    from gan_lightning.cluster.distributed import use_cached_cuda_check_without_a_driver

    monkeypatch.setenv("PYTORCH_NVML_BASED_CUDA_CHECK", "1")
    use_cached_cuda_check_without_a_driver()
    nvml = torch.cuda._device_count_nvml() >= 0
    assert (os.environ.get("PYTORCH_NVML_BASED_CUDA_CHECK") == "1") == nvml
    if not nvml:  # what an optimizer step asks, now answered without trying to load NVML again
        import ctypes

        loads = []
        real_cdll = ctypes.CDLL
        monkeypatch.setattr(ctypes, "CDLL", lambda name, *a, **k: loads.append(name) or real_cdll(name, *a, **k))
        for _ in range(3):
            torch.accelerator.current_accelerator(check_available=True)
        assert loads == []
        monkeypatch.setenv("PYTORCH_NVML_BASED_CUDA_CHECK", "1")  # the control: Lightning's setting retries
        torch.accelerator.current_accelerator(check_available=True)
        assert any("nvidia-ml" in str(name) for name in loads)
