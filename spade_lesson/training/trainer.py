"""The GAN step of SPADE (Park et al., CVPR 2019, Sec. 3 and 4): G, D (and E), the EMA generator, TTUR and AMP.

`SPADETrainer(config, label_nc, device)` owns the networks (built by spade_lesson.training.networks.build_networks,
or a generator it is given), the optimizers and the loss scalers; `step(label, image, instance=None)` is one GAN step,
`generate` samples the EMA generator, and `state_dict`/`load_state_dict` are what a checkpoint holds. The networks read
the semantic input that spade_lesson.layers.semantic_input builds from the label map (and instance map) as the config's
contain_dontcare_label and no_instance say: semantic_nc channels.
"""

from __future__ import annotations

import contextlib
import copy
from typing import Any

import torch
from torch import nn

from spade_lesson.layers.onehot import SegMap, cat_batch, cat_channels
from spade_lesson.layers.semantic_input import semantic_input, semantic_nc
from spade_lesson.models.encoder import reparameterize
from spade_lesson.runtime.amp import resolve_amp
from spade_lesson.runtime.machine import ddp_device_ids
from spade_lesson.training.config import TrainConfig
from spade_lesson.training.losses import (
    VGGLoss,
    discriminator_loss,
    feature_matching_loss,
    generator_loss,
    kl_divergence,
    load_vgg19_features,
)
from spade_lesson.training.networks import build_networks, check_memory


def learning_rate_factor(step: int, steps: int, decay_start: int | None) -> float:
    """1 before decay_start, then falling linearly to 0 at `steps` (the official linear decay, per step)."""
    if decay_start is None or step < decay_start or steps == decay_start:
        return 1.0
    return max(0.0, (steps - step) / (steps - decay_start))  # lr_t = lr_0 (T - t) / (T - t_decay)


class SPADETrainer:
    """G, D (and E), the EMA generator, TTUR Adam optimizers and the losses: one call of step() is one GAN step."""

    def __init__(self, config: TrainConfig, label_nc: int, device: torch.device,
                 image_size: tuple[int, int] | None = None, distributed: bool = False,
                 generator: nn.Module | None = None) -> None:
        """label_nc: classes of the label maps (the dataset's num_classes); device: where the networks train, picked
        once by the caller (spade_lesson.runtime.machine.pick_device(config.device)); image_size: (H, W), default
        config.image_size; generator: the generator to train (anything with forward(semantic, z=None), semantic a
        SegMap, or the dense map with one_hot_lookup=False), default SPADE's."""
        self.config = config
        self.label_nc = label_nc
        self.semantic_nc = semantic_nc(label_nc, config.contain_dontcare_label, config.no_instance)
        self.device = device
        self.amp_dtype = resolve_amp(config.amp, device)
        self.memory_format = torch.channels_last if config.channels_last else torch.contiguous_format
        check_memory(config, self.semantic_nc, image_size, device, generator)
        nets = build_networks(config, self.semantic_nc, image_size, generator)
        self.generator, self.discriminator, self.encoder = nets["G"], nets["D"], nets.get("E")
        if distributed and device.type == "cuda":  # one set of BatchNorm statistics over every GPU's batch
            self.generator = nn.SyncBatchNorm.convert_sync_batchnorm(self.generator)
        for module in (self.generator, self.discriminator, self.encoder):
            if module is not None:
                module.to(device, memory_format=self.memory_format)
        # *_run: what the step calls (DDP-wrapped when distributed, compiled when asked); d_local skips DDP's all-reduce
        self.g_run, self.d_run, self.e_run = self.generator, self.discriminator, self.encoder
        if distributed:
            ids = ddp_device_ids(device)
            self.g_run = nn.parallel.DistributedDataParallel(self.generator, device_ids=ids)
            self.d_run = nn.parallel.DistributedDataParallel(self.discriminator, device_ids=ids)
            if self.encoder is not None:
                self.e_run = nn.parallel.DistributedDataParallel(self.encoder, device_ids=ids)
        self.d_local = self.discriminator
        if config.compile:
            self.g_run, self.d_run = torch.compile(self.g_run), torch.compile(self.d_run)
            self.d_local = self.d_run if not distributed else torch.compile(self.discriminator)
        self.steps_done = 0
        self.ema = copy.deepcopy(self.generator).eval().requires_grad_(False)  # after DDP: rank 0's initial weights
        g_params = list(self.generator.parameters())
        if self.encoder is not None:
            g_params += list(self.encoder.parameters())  # the encoder trains with the generator, as officially
        betas = (config.beta1, config.beta2)
        self.opt_G = torch.optim.Adam(g_params, lr=config.lr_G, betas=betas)
        self.opt_D = torch.optim.Adam(self.discriminator.parameters(), lr=config.lr_D, betas=betas)
        fp16 = self.amp_dtype == torch.float16
        self.scaler_G = torch.amp.GradScaler(device.type, enabled=fp16)  # fp16 needs loss scaling; bf16 does not
        self.scaler_D = torch.amp.GradScaler(device.type, enabled=fp16)
        self.vgg = None
        if config.lambda_vgg > 0:
            features = load_vgg19_features()
            if features is not None:
                self.vgg = VGGLoss(features).to(device, memory_format=self.memory_format)

    def networks(self) -> dict[str, nn.Module]:
        """The networks by checkpoint key: G, D, E (with use_vae) and EMA."""
        nets = {"G": self.generator, "D": self.discriminator, "EMA": self.ema}
        if self.encoder is not None:
            nets["E"] = self.encoder
        return nets

    def autocast(self) -> contextlib.AbstractContextManager:
        """Mixed precision in amp_dtype on this device when configured, else nothing."""
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.amp_dtype)

    def semantic(self, label: torch.Tensor, instance: torch.Tensor | None = None) -> torch.Tensor | SegMap:
        """label: (N, H, W) ids, instance: (N, H, W) ids or None -> the networks' input m (N, semantic_nc, H, W): a
        SegMap with one_hot_lookup (its resizes and lookups are kept for this step), else the dense map."""
        label = label.to(self.device, non_blocking=True)
        if instance is not None:
            instance = instance.to(self.device, non_blocking=True)
        semantic = semantic_input(label, self.label_nc, self.config.contain_dontcare_label, self.config.no_instance,
                                  instance, lookup=self.config.one_hot_lookup)
        return semantic if isinstance(semantic, SegMap) else semantic.contiguous(memory_format=self.memory_format)

    def set_learning_rates(self, step: int) -> None:
        """Apply the linear decay of both learning rates for this step (TTUR keeps their ratio)."""
        factor = learning_rate_factor(step, self.config.steps, self.config.decay_start)
        for group in self.opt_G.param_groups:
            group["lr"] = self.config.lr_G * factor
        for group in self.opt_D.param_groups:
            group["lr"] = self.config.lr_D * factor

    def step(self, label: torch.Tensor, image: torch.Tensor,
             instance: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """One GAN step on a batch (label (N, H, W), image (N, 3, H, W), instance (N, H, W) or None): D, then G, then
        the EMA; detached losses."""
        config = self.config
        semantic = self.semantic(label, instance)
        real = image.to(self.device, non_blocking=True).contiguous(memory_format=self.memory_format)
        losses: dict[str, torch.Tensor] = {}
        with self.autocast():
            z = None
            if self.e_run is not None:
                mu, logvar = self.e_run(real)
                z = reparameterize(mu.float(), logvar.float())
                losses["G_KLD"] = config.lambda_kld * kl_divergence(mu, logvar)  # lambda_KL * KL(q(z|x) || N(0, I))
            fake = self.g_run(semantic, z)

        self.discriminator.requires_grad_(True)
        with self.autocast():
            pair = cat_batch([cat_channels(semantic, fake.detach()), cat_channels(semantic, real)])
            outputs = self.d_run(pair)  # fakes and reals in one batch, as the official code
            d_fake = [[f[: len(real)] for f in scale] for scale in outputs]
            d_real = [[f[len(real):] for f in scale] for scale in outputs]
            losses["D_fake"], losses["D_real"] = discriminator_loss(d_fake, d_real, config.gan_mode)
        self.opt_D.zero_grad(set_to_none=True)
        self.scaler_D.scale(losses["D_fake"] + losses["D_real"]).backward()
        self.scaler_D.step(self.opt_D)
        self.scaler_D.update()

        self.discriminator.requires_grad_(False)  # G's step needs gradients through D, not for it
        with self.autocast():
            g_fake = self.d_local(cat_channels(semantic, fake))  # D itself: nothing to all-reduce
            with torch.no_grad():
                g_real = self.d_local(cat_channels(semantic, real))
            losses["G_GAN"] = generator_loss(g_fake, config.gan_mode)
            losses["G_feat"] = config.lambda_feat * feature_matching_loss(g_fake, g_real)  # lambda_FM * L_FM
            if self.vgg is not None:
                losses["G_VGG"] = config.lambda_vgg * self.vgg(fake, real)  # lambda_VGG * L_VGG
        g_total = sum(value for key, value in losses.items() if key.startswith("G_"))
        self.opt_G.zero_grad(set_to_none=True)
        self.scaler_G.scale(g_total).backward()
        self.scaler_G.step(self.opt_G)
        self.scaler_G.update()
        self.steps_done += 1
        self.update_ema()
        return {key: value.detach().float() for key, value in losses.items()}

    @torch.no_grad()
    def update_ema(self) -> None:
        """ema <- d * ema + (1 - d) * G (weights), d = min(ema_decay, (1 + t) / (10 + t)); buffers copied."""
        done = self.steps_done
        decay = min(self.config.ema_decay, (1 + done) / (10 + done))  # short runs are not stuck with the initial G
        for ema_param, param in zip(self.ema.parameters(), self.generator.parameters()):
            ema_param.lerp_(param, 1 - decay)  # theta_ema = d theta_ema + (1 - d) theta
        for ema_buffer, buffer in zip(self.ema.buffers(), self.generator.buffers()):
            ema_buffer.copy_(buffer)

    @torch.no_grad()
    def generate(self, label: torch.Tensor, image: torch.Tensor | None = None, z: torch.Tensor | None = None,
                 generator: torch.Generator | None = None, instance: torch.Tensor | None = None) -> torch.Tensor:
        """The EMA generator's images (N, 3, H, W) for labels (N, H, W) (and their instance maps); style z from
        `image` (VAE), given, or drawn. Before the first step there is no average yet (and the copy's spectral-norm
        vectors were never iterated): a throwaway copy of G draws, as a step runs it, and no state changes."""
        semantic = self.semantic(label, instance)
        if self.encoder is not None and z is None:
            if image is not None:
                self.encoder.eval()
                z, _ = self.encoder(image.to(self.device).contiguous(memory_format=self.memory_format))  # the mean
                self.encoder.train()
            else:
                z = torch.randn(len(label), self.ema.z_dim, device=self.device, generator=generator)
        sampler = self.ema if self.steps_done > 0 else copy.deepcopy(self.generator).train()
        with self.autocast():
            return sampler(semantic, z).float()

    @torch.no_grad()
    def non_finite_weights(self) -> str | None:
        """The first parameter holding a NaN or inf, as "G: head_0.conv_0.weight", or None (one sync for all)."""
        named = [(f"{key}: {name}", param) for key, module in self.networks().items()
                 for name, param in module.named_parameters()]
        finite = torch.stack([torch.isfinite(param).all() for _, param in named])
        if bool(finite.all()):
            return None
        return named[int((~finite).nonzero()[0])][0]

    def state_dict(self) -> dict[str, Any]:
        """Networks, optimizers and loss scalers as plain dicts of tensors (loadable with weights_only=True)."""
        state: dict[str, Any] = {key: module.state_dict() for key, module in self.networks().items()}
        state.update(steps_done=self.steps_done, opt_G=self.opt_G.state_dict(), opt_D=self.opt_D.state_dict(),
                     scaler_G=self.scaler_G.state_dict(), scaler_D=self.scaler_D.state_dict())
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what state_dict() wrote."""
        for key, module in self.networks().items():
            module.load_state_dict(state[key])
        self.steps_done = state["steps_done"]
        self.opt_G.load_state_dict(state["opt_G"])
        self.opt_D.load_state_dict(state["opt_D"])
        if state["scaler_G"]:
            self.scaler_G.load_state_dict(state["scaler_G"])
            self.scaler_D.load_state_dict(state["scaler_D"])
