"""Tests for spade_lesson.evaluation.realism: KID in a judge's features, its floor and what it ranks."""

from __future__ import annotations

import pytest
import torch

from spade_lesson.evaluation.realism import judge_features, kid, realism
from spade_lesson.evaluation.segmenter import UNet


def test_kid_matches_the_unbiased_estimator_written_out():
    torch.manual_seed(0)
    a, b = torch.randn(5, 3).double(), torch.randn(4, 3).double() + 0.5
    k = lambda x, y: (x @ y / 3 + 1) ** 3
    within_a = sum(k(a[i], a[j]) for i in range(5) for j in range(5) if i != j) / 20
    within_b = sum(k(b[i], b[j]) for i in range(4) for j in range(4) if i != j) / 12
    across = sum(k(a[i], b[j]) for i in range(5) for j in range(4)) / 20
    assert kid(a, b) == pytest.approx(float(within_a + within_b - 2 * across) * 1000, rel=1e-9)


@pytest.mark.slow
def test_kid_is_near_zero_for_one_distribution_and_grows_with_a_shift():
    torch.manual_seed(0)
    same = kid(torch.randn(400, 8), torch.randn(400, 8))
    shifted = kid(torch.randn(400, 8), torch.randn(400, 8) + 1)
    assert abs(same) < 0.05 * shifted and shifted > 0


@pytest.mark.slow
def test_judge_features_are_per_level_means_and_stds():
    judge = UNet(num_classes=3, width=4, depth=2)
    features = judge_features(judge, torch.rand(6, 3, 16, 16) * 2 - 1, batch_size=4)
    assert features.shape == (6, 2 * (4 + 8 + 16)) and judge.training  # the judge's mode is left as it was


@pytest.mark.slow
def test_realism_ranks_flat_pictures_away_from_textured_ones():
    torch.manual_seed(0)
    judge = UNet(num_classes=3, width=4, depth=2)
    textured, other_textured = torch.rand(32, 3, 16, 16) * 2 - 1, torch.rand(32, 3, 16, 16) * 2 - 1
    flat = textured.mean(dim=(2, 3), keepdim=True).expand_as(textured)
    assert realism(judge, flat, other_textured) > 10 * abs(realism(judge, textured, other_textured))


@pytest.mark.parametrize("shapes", [((1, 4), (5, 4)), ((5, 4), (5, 3)), ((5,), (5,))])
def test_kid_refuses_feature_sets_it_cannot_compare(shapes):
    with pytest.raises(ValueError, match="kid:"):
        kid(torch.zeros(shapes[0]), torch.zeros(shapes[1]))
