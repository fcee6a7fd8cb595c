"""spade_lesson.runtime.amp: the amp setting becomes the dtype this torch can autocast to on a device, or float32
with one line saying why; autocast_dtype reads what autocast computes in right now."""

from __future__ import annotations

import torch

from spade_lesson.runtime import amp
from spade_lesson.runtime.amp import autocast_dtype, resolve_amp


def test_amp_is_an_option_on_every_device_torch_supports(monkeypatch, capsys):
    cpu = torch.device("cpu")
    assert resolve_amp("auto", cpu) is None and resolve_amp("none", cpu) is None  # auto: float32 off CUDA
    assert resolve_amp("bf16", cpu) == torch.bfloat16
    monkeypatch.setattr(amp, "autocast_works", lambda device_type, dtype: False)
    assert resolve_amp("bf16", cpu) is None
    assert capsys.readouterr().err.strip().endswith("has no bf16 autocast on cpu; training in float32")


def test_fp16_without_a_grad_scaler_falls_back_to_float32_in_one_line(monkeypatch, capsys):
    monkeypatch.setattr(amp, "grad_scaler_works", lambda device_type: False)
    assert resolve_amp("fp16", torch.device("cpu")) is None
    assert capsys.readouterr().err.strip().endswith("has no GradScaler on cpu, which fp16 needs; training in float32")


def test_autocast_dtype_is_the_dtype_inside_autocast_and_none_outside():
    assert autocast_dtype("cpu") is None
    with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
        assert autocast_dtype("cpu") == torch.bfloat16
