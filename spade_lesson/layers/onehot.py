"""One-hot label maps as lookups: a conv over a one-hot map m is a sum of shifted rows of its weight.

A conv's output at a pixel is sum_{i,j,c} W[:, c, i, j] * m[c, y + i, x + j]. With m one-hot, only the class
c(y + i, x + j) of each pixel in the window contributes, so the sum over c is one lookup: the weight slice of that
pixel's class. `SegMap` holds m as class ids (N, H, W) instead of (N, C, H, W) floats (plus any dense channels
after the one-hot ones: instance edges, or the image beside the label map in the discriminator).

The seam: the networks are written for the dense map (SPADE, the generator and the discriminator call nn.Conv2d,
F.interpolate, F.avg_pool2d and torch.cat on it, as the paper's code does) and never name a SegMap. A SegMap passed in
its place answers those same torch calls itself (`SegMap.__torch_function__`): F.conv2d as lookups (one
F.embedding_bag over the kernel's k*k offsets, from LOOKUP_MIN_CLASSES classes on; with fewer, the plain conv over the
map's kept dense form), F.interpolate (nearest) by resizing its ids once per size and keeping the result, so the SPADE
layers at one resolution share one resize per step, F.avg_pool2d (the discriminator's pooling between scales, from the
ids), and torch.cat along channels (the image beside the map) or the batch. The trainer builds a SegMap when
TrainConfig.one_hot_lookup is on (layers.semantic_input); every result equals the dense map's (tests/test_onehot.py).
`OneHotConv2d` is an nn.Conv2d (same `weight`, `bias`) that also takes a SegMap with a non-zero padding_mode.
`resized`, `cat_channels`, `cat_batch` are F.interpolate and torch.cat for either kind, for code that names both.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.modules.utils import _pair

from spade_lesson.data.semantic import checked_label
from spade_lesson.runtime.amp import autocast_dtype


class SegMap:
    """The one-hot segmentation map m as class ids: ids (N, H, W) in 0..num_classes, num_classes = all-zero pixel.

    extra: (N, E, H, W) dense channels that follow the num_classes one-hot channels, or None. The dense map this
    stands for is torch.cat([one_hot(ids), extra], dim=1), of num_classes + E channels (`dense()` builds it).
    """

    def __init__(self, ids: torch.Tensor, num_classes: int, extra: torch.Tensor | None = None) -> None:
        if ids.dim() != 3 or ids.dtype.is_floating_point or ids.dtype == torch.bool:
            raise ValueError(f"SegMap: ids must be an integer tensor (N, H, W), got {tuple(ids.shape)} {ids.dtype}")
        if extra is not None and (extra.dim() != 4 or extra.shape[:1] + extra.shape[2:] != ids.shape):
            raise ValueError(f"SegMap: extra has shape {tuple(extra.shape)}: expected (N, E, H, W) with (N, H, W) = "
                             f"{tuple(ids.shape)}, the ids' shape")
        self.ids = ids.long()
        self.num_classes = num_classes
        self.extra = extra
        self._resized: dict[tuple[int, int], SegMap] = {}
        self._bags: dict[tuple, torch.Tensor] = {}
        self._dense: dict[torch.dtype, torch.Tensor] = {}

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):  # torch calls it for any call that gets a SegMap
        """The torch calls the networks make on a label map, answered from the ids (the seam: see the module doc)."""
        handler = _HANDLED.get(func)
        if handler is None:
            name = getattr(func, "__name__", str(func))
            raise TypeError(f"{name} is not defined on a SegMap (class ids standing in for a one-hot map): call "
                            ".dense() first, or train with one_hot_lookup=False")
        return handler(*args, **(kwargs or {}))

    @classmethod
    def from_labels(cls, label: torch.Tensor, num_classes: int, dontcare: bool = False) -> SegMap:
        """label: (N, H, W) ids (255 = don't care) -> the SegMap of one_hot(label, num_classes, dontcare)."""
        label, ignore = checked_label(label, num_classes)
        # with dontcare the last channel marks those pixels; without it they are all-zero (id num_classes)
        return cls(label.masked_fill(ignore, num_classes), num_classes + 1 if dontcare else num_classes)

    @property
    def channels(self) -> int:
        """Channels of the dense map: num_classes one-hot ones, then the extra ones."""
        return self.num_classes + (0 if self.extra is None else self.extra.shape[1])

    @property
    def device(self) -> torch.device:
        """Where the ids (and extra channels) live."""
        return self.ids.device

    @property
    def shape(self) -> torch.Size:
        """The dense map's shape (N, channels, H, W)."""
        n, h, w = self.ids.shape
        return torch.Size((n, self.channels, h, w))

    def dense(self, dtype: torch.dtype | None = None) -> torch.Tensor:
        """The map as a dense tensor (N, channels, H, W): one-hot channels (all-zero where id = num_classes), extra.

        dtype: default float32, or the extra channels' dtype where that is wider (as torch.cat would promote). Kept
        (the layers at one resolution share it). Laid out channels-last.
        """
        if dtype is None:
            dtype = torch.float32 if self.extra is None else torch.promote_types(torch.float32, self.extra.dtype)
        if dtype not in self._dense:
            one_hot = F.one_hot(self.ids, self.num_classes + 1)[..., : self.num_classes].permute(0, 3, 1, 2)
            one_hot = one_hot.to(dtype)
            self._dense[dtype] = one_hot if self.extra is None else torch.cat([one_hot, self.extra.to(dtype)], dim=1)
        return self._dense[dtype]

    def avg_pool2d(self, kernel_size: int, stride: int, padding: int) -> torch.Tensor:
        """F.avg_pool2d(self.dense(), kernel_size, stride, padding, count_include_pad=False), made at the pooled size.

        Each output pixel's one-hot part is the share of each class among the window's pixels inside the map: the
        ids count their class, one window offset at a time, then the counts are divided by the pixels inside (the
        same sum and division as F.avg_pool2d, so the same bits), with no full-size dense map.
        """
        n, height, width = self.ids.shape
        edge = self.num_classes  # padding counts as the all-zero id, and not in the divisor
        padded = F.pad(self.ids, (padding, padding, padding, padding), value=edge)
        h_out = (height + 2 * padding - kernel_size) // stride + 1
        w_out = (width + 2 * padding - kernel_size) // stride + 1
        dtype = torch.float32 if self.extra is None else torch.promote_types(torch.float32, self.extra.dtype)
        inside = F.avg_pool2d(torch.ones(1, 1, height, width, dtype=dtype, device=self.device), kernel_size, stride,
                              padding, count_include_pad=True) * kernel_size**2  # pixels of each window inside
        one = torch.ones(n, 1, h_out, w_out, dtype=dtype, device=self.device)
        counts = torch.zeros(n, self.num_classes + 1, h_out, w_out, dtype=dtype, device=self.device)
        for i in range(kernel_size):
            for j in range(kernel_size):
                window = padded[:, i: i + (h_out - 1) * stride + 1: stride, j: j + (w_out - 1) * stride + 1: stride]
                counts.scatter_add_(1, window[:, None], one)
        pooled = counts[:, : self.num_classes] / inside
        if self.extra is None:
            return pooled
        extra = F.avg_pool2d(self.extra, kernel_size, stride, padding, count_include_pad=False)
        return torch.cat([pooled, extra.to(dtype)], dim=1)

    def with_extra(self, extra: torch.Tensor) -> SegMap:
        """This map with `extra` (N, E, H, W) appended after its channels: torch.cat([m, extra], dim=1)."""
        joined = SegMap(self.ids, self.num_classes, extra if self.extra is None else torch.cat([self.extra, extra], 1))
        joined._bags = self._bags  # the same ids: the same bags
        return joined

    @staticmethod
    def cat(maps: Sequence[SegMap]) -> SegMap:
        """Several maps of one channel layout stacked along the batch: torch.cat(maps, dim=0)."""
        if len({(m.num_classes, m.channels) for m in maps}) != 1:
            raise ValueError("SegMap.cat: the maps differ in num_classes or channels; stack maps of one layout")
        extras = [m.extra for m in maps]
        extra = None if extras[0] is None else torch.cat(extras)
        return SegMap(torch.cat([m.ids for m in maps]), maps[0].num_classes, extra)

    def resized(self, size: Sequence[int]) -> SegMap:
        """This map at (height, width) by nearest neighbour, as F.interpolate(dense, size, mode="nearest"); kept."""
        size = (int(size[0]), int(size[1]))
        if size == tuple(self.ids.shape[1:]):
            return self
        if size not in self._resized:
            # one channel of ids, not num_classes channels of floats (ids < 2**24 are exact in float32)
            ids = F.interpolate(self.ids[:, None].float(), size=size, mode="nearest")[:, 0].long()
            extra = None if self.extra is None else F.interpolate(self.extra, size=size, mode="nearest")
            self._resized[size] = SegMap(ids, self.num_classes, extra)
        return self._resized[size]

    def bags(self, kernel_size: tuple[int, int], stride: tuple[int, int], dilation: tuple[int, int],
             pads: tuple[int, int, int, int], padding_mode: str) -> torch.Tensor:
        """Row numbers into a conv's lookup table (N * H_out * W_out, kh * kw), one bag per output pixel; kept.

        Row (i * kw + j) * (num_classes + 1) + c is the weight slice W[:, c, i, j]; c = num_classes is a zero row,
        used for all-zero pixels and for zero padding. pads: (top, bottom, left, right).
        """
        key = (kernel_size, stride, dilation, pads, padding_mode)
        if key not in self._bags:
            (kh, kw), (sh, sw), (dh, dw) = kernel_size, stride, dilation
            top, bottom, left, right = pads
            n, height, width = self.ids.shape
            rows, row_outside = _padded_coordinates(height, top, bottom, padding_mode, self.ids.device)
            cols, col_outside = _padded_coordinates(width, left, right, padding_mode, self.ids.device)
            padded = self.ids[:, rows][:, :, cols]  # (N, H + top + bottom, W + left + right)
            if padding_mode == "zeros":
                padded = padded.masked_fill(row_outside[:, None] | col_outside[None, :], self.num_classes)
            h_out = (padded.shape[1] - dh * (kh - 1) - 1) // sh + 1
            w_out = (padded.shape[2] - dw * (kw - 1) - 1) // sw + 1
            if h_out < 1 or w_out < 1:
                raise ValueError(f"SegMap: a {height} x {width} map is smaller than the conv's {kh} x {kw} kernel "
                                 "after padding; use a larger map")
            shifted = [padded[:, i * dh: i * dh + (h_out - 1) * sh + 1: sh, j * dw: j * dw + (w_out - 1) * sw + 1: sw]
                       + (i * kw + j) * (self.num_classes + 1) for i in range(kh) for j in range(kw)]
            self._bags[key] = torch.stack(shifted, dim=-1).reshape(n * h_out * w_out, kh * kw)
        return self._bags[key]


def resized(segmap: torch.Tensor | SegMap, size: Sequence[int]) -> torch.Tensor | SegMap:
    """The label map at (height, width) by nearest neighbour: a SegMap's kept resize, or F.interpolate of a tensor."""
    if isinstance(segmap, SegMap):
        return segmap.resized(size)
    if tuple(segmap.shape[2:]) == tuple(size):
        return segmap
    return F.interpolate(segmap, size=tuple(size), mode="nearest")


def cat_channels(segmap: torch.Tensor | SegMap, extra: torch.Tensor) -> torch.Tensor | SegMap:
    """torch.cat([segmap, extra], dim=1) for a one-hot tensor or a SegMap (the discriminator's label map + image)."""
    return segmap.with_extra(extra) if isinstance(segmap, SegMap) else torch.cat([segmap, extra], dim=1)


def cat_batch(maps: Sequence[torch.Tensor | SegMap]) -> torch.Tensor | SegMap:
    """torch.cat(maps, dim=0) for one-hot tensors or SegMaps."""
    return SegMap.cat(maps) if isinstance(maps[0], SegMap) else torch.cat(list(maps), dim=0)


def _padded_coordinates(size: int, before: int, after: int, padding_mode: str,
                        device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Source index of each padded position along one axis (size + before + after), and which lie outside."""
    position = torch.arange(-before, size + after, device=device)
    outside = (position < 0) | (position >= size)
    if padding_mode == "zeros":
        return position.clamp(0, size - 1), outside  # outside positions are masked to the zero row
    if padding_mode == "reflect":
        if before >= size or after >= size:
            raise ValueError(f"reflect padding of {max(before, after)} needs a map wider than that, not {size}")
        position = position.abs()
        return torch.where(position > size - 1, 2 * (size - 1) - position, position), outside
    if padding_mode == "replicate":
        return position.clamp(0, size - 1), outside
    if padding_mode == "circular":
        return position.remainder(size), outside
    raise ValueError(f"padding_mode={padding_mode!r} is not known: use zeros, reflect, replicate or circular")


def _pads(padding: str | tuple[int, ...], kernel_size: tuple[int, int],
          dilation: tuple[int, int]) -> tuple[int, int, int, int]:
    """nn.Conv2d's padding as (top, bottom, left, right); "same" puts the odd pixel after, as torch does."""
    if padding == "valid":
        return 0, 0, 0, 0
    if padding == "same":
        total = [d * (k - 1) for d, k in zip(dilation, kernel_size)]
        return total[0] // 2, total[0] - total[0] // 2, total[1] // 2, total[1] - total[1] // 2
    return padding[0], padding[0], padding[1], padding[1]


class _Lookup(torch.autograd.Function):
    """bags (B, K) rows of table (R, C_out) summed per bag, + bias: (B, C_out); the table's gradient by index_add_.

    F.embedding_bag's own backward sorts the B * K row numbers first, several times slower on a CPU than adding
    each of the K columns of rows into a float32 gradient (also exact for a bf16 table under autocast).
    """

    @staticmethod
    def forward(ctx, bags: torch.Tensor, table: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        ctx.save_for_backward(bags)
        ctx.table_shape, ctx.table_dtype, ctx.has_bias = table.shape, table.dtype, bias is not None
        out = F.embedding_bag(bags, table, mode="sum")
        return out if bias is None else out.add_(bias)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad: torch.Tensor) -> tuple[None, torch.Tensor | None, torch.Tensor | None]:
        (bags,) = ctx.saved_tensors
        grad_table = grad_bias = None
        if ctx.needs_input_grad[1]:
            accumulated = torch.zeros(ctx.table_shape, dtype=torch.promote_types(grad.dtype, torch.float32),
                                      device=grad.device)
            source = grad.to(accumulated.dtype)
            for k in range(bags.shape[1]):  # d out[b] / d table[bags[b, k]] = 1 for every slot k
                accumulated.index_add_(0, bags[:, k], source)
            grad_table = accumulated.to(ctx.table_dtype)
        if ctx.has_bias and ctx.needs_input_grad[2]:
            grad_bias = grad.sum(0)
        return None, grad_table, grad_bias


def one_hot_conv2d(segmap: SegMap, weight: torch.Tensor, bias: torch.Tensor | None = None,
                   stride: tuple[int, int] = (1, 1), padding: str | tuple[int, int] = (0, 0),
                   dilation: tuple[int, int] = (1, 1), padding_mode: str = "zeros") -> torch.Tensor:
    """F.conv2d(segmap.dense(), weight, bias, ...) computed as lookups: weight (C_out, channels, kh, kw).

    Returns (N, C_out, H_out, W_out) (laid out channels-last). The one-hot channels cost one F.embedding_bag over
    (N H_out W_out) bags of kh * kw rows; only the extra channels go through F.conv2d.
    """
    out_channels, in_channels, kh, kw = weight.shape
    if in_channels != segmap.channels:
        raise ValueError(f"the conv takes {in_channels} input channels, the SegMap has {segmap.channels} "
                         f"({segmap.num_classes} one-hot + {segmap.channels - segmap.num_classes} extra): "
                         "build the conv for the map's channels")
    n, height, width = segmap.ids.shape
    pads = _pads(padding, (kh, kw), dilation)
    bags = segmap.bags((kh, kw), tuple(stride), tuple(dilation), pads, padding_mode)
    c = segmap.num_classes
    dtype = autocast_dtype(weight.device.type) or weight.dtype
    # table row (i * kw + j) * (c + 1) + k = W[:, k, i, j]; the last row of each offset is zero (all-zero pixels)
    slices = weight[:, :c].to(dtype).permute(2, 3, 1, 0)  # (kh, kw, c, C_out)
    table = torch.cat([slices, slices.new_zeros(kh, kw, 1, out_channels)], dim=2).reshape(-1, out_channels)
    # sum over the kernel's offsets (i, j) of W[:, c(y s + i d, x s + j d), i, j], + b: the one-hot channels' conv
    out = _Lookup.apply(bags, table, None if bias is None else bias.to(dtype))
    h_out = (height + pads[0] + pads[1] - dilation[0] * (kh - 1) - 1) // stride[0] + 1
    w_out = (width + pads[2] + pads[3] - dilation[1] * (kw - 1) - 1) // stride[1] + 1
    out = out.view(n, h_out, w_out, out_channels).permute(0, 3, 1, 2)
    if segmap.extra is not None:
        extra = segmap.extra
        if padding_mode != "zeros":
            extra = F.pad(extra, (pads[2], pads[3], pads[0], pads[1]), mode=padding_mode)
            pads = (0, 0, 0, 0)
        elif pads[0] != pads[1] or pads[2] != pads[3]:
            extra = F.pad(extra, (pads[2], pads[3], pads[0], pads[1]))
            pads = (0, 0, 0, 0)
        out = out + F.conv2d(extra, weight[:, c:], None, stride, (pads[0], pads[2]), dilation).to(out.dtype)
    return out


# Below this many classes torch's conv over the one-hot map beats the lookups on a CPU: the conv's cost grows with the
# classes, the lookups' does not (benchmarks/onehot_cpu.json: SPADE's first conv, plain / lookups, 0.83 at 9 classes,
# 4.2 at 151; a straight line through the plain times meets the lookups' near 20 classes). Not yet measured on CUDA.
LOOKUP_MIN_CLASSES = 24


class OneHotConv2d(nn.Conv2d):
    """nn.Conv2d whose forward also takes a SegMap: as lookups from LOOKUP_MIN_CLASSES classes on (same result)."""

    def forward(self, input: torch.Tensor | SegMap) -> torch.Tensor:
        """input: (N, in_channels, H, W) dense, or a SegMap of in_channels channels -> (N, out_channels, H', W')."""
        if not isinstance(input, SegMap):
            return super().forward(input)
        if input.num_classes < LOOKUP_MIN_CLASSES:
            return super().forward(input.dense())  # few classes: the plain conv, on the map's kept dense form
        if self.groups != 1:
            raise ValueError(f"OneHotConv2d: groups={self.groups}; a SegMap input needs groups=1")
        return one_hot_conv2d(input, self.weight, self.bias, self.stride, self.padding, self.dilation,
                              self.padding_mode)


def _interpolate(input: SegMap, size: Sequence[int] | None = None, scale_factor: float | None = None,
                 mode: str = "nearest", align_corners: bool | None = None, recompute_scale_factor: bool | None = None,
                 antialias: bool = False) -> SegMap:
    """F.interpolate(m, size, mode="nearest") for a SegMap: its kept resize."""
    if mode != "nearest" or size is None or scale_factor is not None or antialias:
        raise ValueError(f"F.interpolate on a SegMap takes a size and mode='nearest' (got size={size}, "
                         f"scale_factor={scale_factor}, mode={mode!r}): a label map is resized by nearest neighbour")
    return input.resized(size)


def _conv2d(input: SegMap, weight: torch.Tensor, bias: torch.Tensor | None = None, stride: int | tuple = 1,
            padding: str | int | tuple = 0, dilation: int | tuple = 1, groups: int = 1) -> torch.Tensor:
    """F.conv2d(m, weight, bias, ...) for a SegMap: as lookups from LOOKUP_MIN_CLASSES classes on (same result)."""
    if input.num_classes < LOOKUP_MIN_CLASSES:  # few classes: the plain conv, on the map's kept dense form
        return F.conv2d(input.dense(), weight, bias, stride, padding, dilation, groups)
    if groups != 1:
        raise ValueError(f"a conv with groups={groups} read a SegMap: the lookups need groups=1")
    return one_hot_conv2d(input, weight, bias, _pair(stride), padding if isinstance(padding, str) else _pair(padding),
                          _pair(dilation))


def _avg_pool2d(input: SegMap, kernel_size: int, stride: int | None = None, padding: int = 0, ceil_mode: bool = False,
                count_include_pad: bool = True, divisor_override: int | None = None) -> torch.Tensor:
    """F.avg_pool2d(m, ..., count_include_pad=False) for a SegMap: its dense pooled form, made at the pooled size."""
    if count_include_pad or ceil_mode or divisor_override is not None or not all(
            isinstance(value, int) for value in (kernel_size, stride, padding)):
        raise ValueError("F.avg_pool2d on a SegMap takes int kernel_size, stride, padding and count_include_pad=False "
                         "(the discriminator's pooling between scales)")
    return input.avg_pool2d(kernel_size, stride, padding)


def _cat(tensors: Sequence[torch.Tensor | SegMap], dim: int = 0) -> SegMap:
    """torch.cat with a SegMap: maps along the batch (dim 0), or one map then dense channels (dim 1)."""
    first, *rest = tensors
    maps = [isinstance(tensor, SegMap) for tensor in tensors]
    if dim == 0 and all(maps):
        return SegMap.cat(tensors)
    if dim in (1, -3) and maps[0] and not any(maps[1:]) and rest:
        return first.with_extra(torch.cat(rest, dim=1))
    raise ValueError("torch.cat with a SegMap joins SegMaps along dim 0, or one SegMap first and dense channels after "
                     f"it along dim 1 (got dim={dim} and {['SegMap' if m else 'Tensor' for m in maps]})")


_HANDLED = {F.interpolate: _interpolate, F.conv2d: _conv2d, F.avg_pool2d: _avg_pool2d, torch.cat: _cat}
