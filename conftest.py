"""Repository-wide pytest setup: notebooks run in fast mode unless the caller says otherwise."""
import os

# nbval's kernels inherit this environment: SPADE_LESSON_FAST=1 makes every notebook CPU-sized.
os.environ.setdefault("SPADE_LESSON_FAST", "1")
