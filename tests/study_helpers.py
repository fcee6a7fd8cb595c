"""What the study's tests share: a tiny study's settings, 2-item Landscapes splits, and hand-made results documents."""

from __future__ import annotations

from spade_lesson.data import Landscapes

TINY = {"size": 64, "budgets": (1, 2), "batch_size": 2, "ngf": 2, "spade_hidden": 4, "eval_images": 2,
        "segmenter_steps": 1, "device": "cpu"}


def tiny_split(name, root="data", split="train", size=128):
    """2-item Landscapes splits (train and val differ)."""
    return Landscapes(size=size, length=2, seed={"train": 3, "val": 4}[split])


def document(scores: dict[str, dict[int, list[list[float]]]], ceiling: float = 0.9, kid: float = 10.0) -> dict:
    """A results document from model -> steps -> [per seed [per judge mIoU]]; KID = kid - 10 x mIoU; accuracy =
    mIoU + 0.05; the real images score `ceiling` under every judge (KID 0), the flat painter 0.85 (KID 12)."""
    runs = [{"model": model, "seed": seed, "steps": steps, "judge_seed": judge, "miou": value, "accuracy": value + 0.05,
             "kid": kid - 10 * value, "params": 100, "norm_macs": 7}
            for model, curve in scores.items() for steps, table in curve.items() for seed, row in enumerate(table)
            for judge, value in enumerate(row)]
    calibration = [{"row": row, "judge_seed": judge, "miou": miou, "accuracy": miou, "kid": k}
                   for row, miou, k in (("real images", ceiling, 0.0), ("flat painter", 0.85, 12.0))
                   for judge in range(3)]
    return {"settings": {"budgets": sorted({s for curve in scores.values() for s in curve})}, "training": {},
            "judges": [{"seed": judge} for judge in range(3)], "calibration": calibration, "runs": runs}
