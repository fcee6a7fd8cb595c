"""Repository-wide pytest setup: notebooks run in fast mode unless the caller says otherwise, and are slow tests."""
import os

import pytest

# nbval's kernels inherit this environment: SPADE_LESSON_FAST=1 makes every notebook CPU-sized.
os.environ.setdefault("SPADE_LESSON_FAST", "1")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every notebook cell nbval collects is `slow`: a notebook runs for minutes even in fast mode."""
    for item in items:
        if item.path.suffix == ".ipynb":
            item.add_marker(pytest.mark.slow)
