"""Normalization from scratch: BatchNorm2d, and instance/layer/group norm as the same computation over other axes."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


def moments(x: torch.Tensor, dims: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and biased variance of x over dims, kept broadcastable to x."""
    mean = x.mean(dim=tuple(dims), keepdim=True)  # mu = 1/m sum_i x_i
    var = ((x - mean) ** 2).mean(dim=tuple(dims), keepdim=True)  # sigma^2 = 1/m sum_i (x_i - mu)^2
    return mean, var


def standardize(x: torch.Tensor, mean: torch.Tensor, var: torch.Tensor, eps: float) -> torch.Tensor:
    """(x - mean) / sqrt(var + eps), the step every normalization layer shares."""
    return (x - mean) / torch.sqrt(var + eps)  # x_hat = (x - mu) / sqrt(sigma^2 + eps)


def normalize(x: torch.Tensor, dims: Sequence[int], eps: float = 1e-5) -> torch.Tensor:
    """Standardize x with the mean and biased variance taken over dims."""
    mean, var = moments(x, dims)
    return standardize(x, mean, var, eps)


def _channel_affine(x: torch.Tensor, weight: torch.Tensor | None, bias: torch.Tensor | None) -> torch.Tensor:
    """x: (N, C, *) scaled by weight: (C,) and shifted by bias: (C,) (either may be None)."""
    shape = (1, -1) + (1,) * (x.dim() - 2)
    if weight is not None:
        x = x * weight.reshape(shape)  # gamma * x_hat
    if bias is not None:
        x = x + bias.reshape(shape)  # ... + beta
    return x


def batch_norm(input: torch.Tensor, weight: torch.Tensor | None = None, bias: torch.Tensor | None = None,
               eps: float = 1e-5) -> torch.Tensor:
    """input: (N, C, *) normalized per channel over the batch and every spatial position (training-mode BatchNorm)."""
    dims = (0,) + tuple(range(2, input.dim()))
    return _channel_affine(normalize(input, dims, eps), weight, bias)


def instance_norm(input: torch.Tensor, weight: torch.Tensor | None = None, bias: torch.Tensor | None = None,
                  eps: float = 1e-5) -> torch.Tensor:
    """input: (N, C, *) normalized per sample and per channel over the spatial positions only."""
    dims = tuple(range(2, input.dim()))
    return _channel_affine(normalize(input, dims, eps), weight, bias)


def layer_norm(input: torch.Tensor, normalized_shape: Sequence[int], weight: torch.Tensor | None = None,
               bias: torch.Tensor | None = None, eps: float = 1e-5) -> torch.Tensor:
    """input: (*, *normalized_shape) normalized per sample over its last len(normalized_shape) dims."""
    normalized_shape = tuple(normalized_shape)
    if tuple(input.shape[input.dim() - len(normalized_shape):]) != normalized_shape:
        raise ValueError(f"layer_norm: input shape {tuple(input.shape)} does not end with normalized_shape "
                         f"{normalized_shape}; pass the trailing dims of the input")
    dims = tuple(range(input.dim() - len(normalized_shape), input.dim()))
    out = normalize(input, dims, eps)
    if weight is not None:
        out = out * weight  # elementwise gamma over normalized_shape
    if bias is not None:
        out = out + bias  # elementwise beta over normalized_shape
    return out


def group_norm(input: torch.Tensor, num_groups: int, weight: torch.Tensor | None = None,
               bias: torch.Tensor | None = None, eps: float = 1e-5) -> torch.Tensor:
    """input: (N, C, *) normalized per sample over each group of C // num_groups channels and all positions."""
    n, c = input.shape[:2]
    if c % num_groups != 0:
        raise ValueError(f"group_norm: num_groups={num_groups} must divide the {c} channels; pick a divisor of {c}")
    grouped = input.reshape(n, num_groups, -1)  # (N, G, C/G * positions)
    out = normalize(grouped, (2,), eps).reshape(input.shape)
    return _channel_affine(out, weight, bias)


class BatchNorm2d(nn.Module):
    """Drop-in torch.nn.BatchNorm2d written with tensor ops: x: (N, C, H, W) -> same shape."""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, device: torch.device | str | None = None,
                 dtype: torch.dtype | None = None, *, bias: bool = True) -> None:
        super().__init__()
        factory_kwargs = {"device": device, "dtype": dtype}
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        if affine:
            self.weight = nn.Parameter(torch.empty(num_features, **factory_kwargs))
            if bias:
                self.bias = nn.Parameter(torch.empty(num_features, **factory_kwargs))
            else:
                self.register_parameter("bias", None)  # gamma x_hat, no beta
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", torch.zeros(num_features, **factory_kwargs))
            self.register_buffer("running_var", torch.ones(num_features, **factory_kwargs))
            self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long, device=device))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)
        self.reset_parameters()

    def reset_running_stats(self) -> None:
        """Running mean 0, running variance 1, no batches seen."""
        if self.track_running_stats:
            self.running_mean.zero_()
            self.running_var.fill_(1)
            self.num_batches_tracked.zero_()

    def reset_parameters(self) -> None:
        """Reset the running statistics and the affine map to the identity (weight 1, bias 0)."""
        self.reset_running_stats()
        if self.affine:
            nn.init.ones_(self.weight)
            if self.bias is not None:
                nn.init.zeros_(self.bias)

    def _update_running_stats(self, mean: torch.Tensor, var: torch.Tensor, count: int) -> None:
        """Blend this batch's mean and UNBIASED variance (C,) into the running buffers."""
        self.num_batches_tracked.add_(1)
        # momentum None: cumulative average, factor 1/t; else exponential average with factor momentum
        factor = 1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
        with torch.no_grad():
            unbiased = var * count / (count - 1)  # s^2 = m / (m - 1) * sigma^2
            self.running_mean.mul_(1 - factor).add_(factor * mean)  # mu_run <- (1 - f) mu_run + f mu
            self.running_var.mul_(1 - factor).add_(factor * unbiased)  # var_run <- (1 - f) var_run + f s^2

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        """input: (N, C, H, W) -> (N, C, H, W); batch statistics in training (or untracked), running ones in eval."""
        if input.dim() != 4:
            raise ValueError(f"BatchNorm2d expects a 4D input (N, C, H, W), got {input.dim()}D {tuple(input.shape)}")
        if input.shape[1] != self.num_features:
            raise ValueError(f"BatchNorm2d({self.num_features}) got {input.shape[1]} channels in input "
                             f"{tuple(input.shape)}; build it with num_features={input.shape[1]}")
        use_batch_stats = self.training or self.running_mean is None
        if use_batch_stats:
            count = input.numel() // input.shape[1]  # m = N * H * W values per channel
            if count < 2:
                raise ValueError(f"BatchNorm2d needs more than 1 value per channel to use batch statistics, got "
                                 f"input {tuple(input.shape)}; use a batch > 1 or a larger map")
            mean, var = moments(input, (0, 2, 3))
            if self.training and self.track_running_stats:
                self._update_running_stats(mean.flatten(), var.flatten(), count)
        else:
            mean = self.running_mean.reshape(1, -1, 1, 1)
            var = self.running_var.reshape(1, -1, 1, 1)
        return _channel_affine(standardize(input, mean, var, self.eps), self.weight, self.bias)  # gamma x_hat + beta

    def extra_repr(self) -> str:
        """The same summary line as torch.nn.BatchNorm2d."""
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"bias={self.bias is not None}, track_running_stats={self.track_running_stats}")
