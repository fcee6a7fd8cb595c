"""Fixtures shared by several test modules."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture
def one_thread():
    """Tiny networks gain nothing from threads, and on a busy machine extra threads mostly wait."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def lookups_always(monkeypatch):
    """OneHotConv2d takes the lookup path at any class count (it takes the plain conv below LOOKUP_MIN_CLASSES)."""
    monkeypatch.setattr("spade_lesson.layers.onehot.LOOKUP_MIN_CLASSES", 1)
