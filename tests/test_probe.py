"""spade_lesson.course.probe: region maps, the conv-norm stack, and the linear probe on cases with known answers."""

from __future__ import annotations

import pytest
import torch

from spade_lesson.course.probe import (
    ConvNormStack,
    fit_probe,
    linear_probe,
    plot_washout,
    probe_layers,
    region_maps,
    washout_sweep,
)
from spade_lesson.data.semantic import one_hot

K = 6


@pytest.mark.parametrize("classes_per_map", [1, 2, 3, 6])
def test_region_maps_hold_exactly_the_asked_number_of_classes(classes_per_map: int) -> None:
    maps = region_maps(10, 16, K, classes_per_map, seed=4)
    assert maps.shape == (10, 16, 16) and maps.dtype == torch.long
    assert all(len(m.unique()) == classes_per_map for m in maps)
    assert int(maps.min()) >= 0 and int(maps.max()) < K


def test_region_maps_are_deterministic_in_the_seed() -> None:
    assert torch.equal(region_maps(4, 12, K, 3, seed=1), region_maps(4, 12, K, 3, seed=1))
    assert not torch.equal(region_maps(4, 12, K, 3, seed=1), region_maps(4, 12, K, 3, seed=2))


def test_region_maps_errors() -> None:
    with pytest.raises(ValueError, match="classes_per_map=7"):
        region_maps(2, 8, K, 7)
    with pytest.raises(ValueError, match="too small"):
        region_maps(2, 2, K, 3)


def test_probe_reads_one_hot_features_perfectly() -> None:
    train, test = region_maps(8, 12, K, 3, seed=1), region_maps(4, 12, K, 3, seed=2)
    result = linear_probe(lambda label: one_hot(label, K), train, test, K)
    assert result.pixel_accuracy == 1.0 and result.miou == 1.0
    assert 0 < result.chance < 1


def test_probe_on_constant_features_scores_the_commonest_class() -> None:
    train, test = region_maps(8, 12, K, 2, seed=1), region_maps(4, 12, K, 2, seed=2)
    result = linear_probe(lambda label: torch.ones(label.shape[0], 3, *label.shape[1:]), train, test, K)
    assert result.pixel_accuracy == pytest.approx(result.chance)
    commonest = torch.bincount(train.flatten(), minlength=K).argmax()
    assert result.chance == pytest.approx(float((test == commonest).float().mean()))


def test_probe_ignores_float_noise_below_its_reading_precision() -> None:
    # uniform maps, every class equally common: the intercept alone cannot break the tie between classes
    test = torch.arange(K).reshape(K, 1, 1).expand(K, 6, 6)
    train = test.repeat(3, 1, 1)
    noise = lambda label: 1e-5 * one_hot(label, K)  # the label, but only at float-rounding size
    signal = lambda label: 0.1 * one_hot(label, K)
    assert linear_probe(noise, train, test, K).pixel_accuracy == pytest.approx(1 / K)
    assert linear_probe(signal, train, test, K).pixel_accuracy == 1.0


def test_probe_is_linear_it_cannot_read_xor() -> None:
    # two channels whose XOR is the label: no linear map separates it, a perfect probe would score 1
    train, test = region_maps(8, 12, 2, 2, seed=1), region_maps(4, 12, 2, 2, seed=2)
    generator = torch.Generator().manual_seed(0)

    def xor_features(label: torch.Tensor) -> torch.Tensor:
        a = torch.randint(0, 2, label.shape, generator=generator)
        return torch.stack([a, a ^ label], dim=1).float()

    assert linear_probe(xor_features, train, test, 2).pixel_accuracy < 0.6


def test_probe_is_deterministic() -> None:
    train, test = region_maps(8, 12, K, 2, seed=1), region_maps(4, 12, K, 2, seed=2)
    stack = ConvNormStack(K, "instance", width=8, depth=2)
    assert probe_layers(stack, train, test) == probe_layers(stack, train, test)


def test_probe_errors_are_clear() -> None:
    train = region_maps(2, 8, K, 2)
    with pytest.raises(ValueError, match="matching the label maps"):
        fit_probe(torch.zeros(2, 3, 4, 4), train, torch.zeros(2, 3, 8, 8), train, K)
    with pytest.raises(ValueError, match="ids 0..2"):
        fit_probe(one_hot(train, K), train, one_hot(train, K), train, 3)


@pytest.mark.slow
def test_instance_norm_washes_out_uniform_maps_and_spade_keeps_them() -> None:
    # the paper's Sec. 3 argument: a uniform map through conv + InstanceNorm gives zero whatever the class
    uniform = torch.arange(K).reshape(K, 1, 1).expand(K, 8, 8)
    assert ConvNormStack(K, "instance", width=8, depth=1)(uniform)[0].abs().max() < 1e-4
    train, test = region_maps(30, 8, K, 1, seed=1), region_maps(12, 8, K, 1, seed=2)
    assert len(train.unique()) == K
    washed = probe_layers(ConvNormStack(K, "instance", width=16, depth=3), train, test)
    assert all(r.pixel_accuracy == pytest.approx(r.chance) for r in washed)
    assert washed[0].chance < 0.5
    for norm in ("spade", "batch", "none"):
        kept = probe_layers(ConvNormStack(K, norm, width=16, depth=3), train, test)
        assert kept[0].pixel_accuracy == 1.0, norm
    assert all(r.pixel_accuracy == 1.0 for r in probe_layers(ConvNormStack(K, "spade", width=16, depth=3),
                                                               train, test))


def test_stack_uses_the_same_conv_weights_for_every_norm() -> None:
    a, b = ConvNormStack(K, "batch", width=8, depth=3, seed=5), ConvNormStack(K, "spade", width=8, depth=3, seed=5)
    assert all(torch.equal(x.weight, y.weight) for x, y in zip(a.convs, b.convs))
    c = ConvNormStack(K, "batch", width=8, depth=3, seed=6)
    assert not torch.equal(a.convs[0].weight, c.convs[0].weight)


def test_stack_shapes_and_unknown_norm() -> None:
    out = ConvNormStack(K, "group", width=8, depth=2, groups=2)(region_maps(3, 10, K, 2))
    assert [tuple(x.shape) for x in out] == [(3, 8, 10, 10)] * 2
    with pytest.raises(ValueError, match="norm='weight' is not known"):
        ConvNormStack(K, "weight")


@pytest.mark.slow
def test_washout_sweep_probes_every_norm_count_and_layer() -> None:
    kwargs = dict(num_classes=4, size=8, n_train=12, n_test=6, width=8, depth=2)
    results = washout_sweep(["instance", "spade"], [1, 2], **kwargs)
    assert sorted(results) == [("instance", 1), ("instance", 2), ("spade", 1), ("spade", 2)]
    assert all(len(layers) == 2 for layers in results.values())
    assert all(r.pixel_accuracy == r.chance for r in results["instance", 1])
    assert results["spade", 1][0].pixel_accuracy > results["instance", 1][0].pixel_accuracy
    assert washout_sweep(["instance"], [2], **kwargs)["instance", 2] == results["instance", 2]


@pytest.mark.slow
def test_plot_washout_draws_each_norm_against_classes_and_depth(monkeypatch: pytest.MonkeyPatch) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    results = washout_sweep(["none", "instance"], [1, 2], num_classes=4, size=12, n_train=4, n_test=2, width=4,
                            depth=2)
    chance = {k: results["none", k][0].chance for k in (1, 2)}
    figures = []
    monkeypatch.setattr(plt, "show", lambda: figures.append(plt.gcf()))
    plot_washout(results, chance, {"none": "no norm", "instance": "InstanceNorm"}, highlight="instance")
    assert len(figures) == 2
    by_classes, by_depth = (figure.axes[0] for figure in figures)
    assert [line.get_label() for line in by_classes.lines] == ["no norm", "InstanceNorm", "chance"]
    assert list(by_classes.lines[1].get_ydata()) == [results["instance", k][0].pixel_accuracy for k in (1, 2)]
    assert list(by_depth.lines[0].get_xdata()) == [1, 2] and by_depth.lines[1].get_linewidth() == 3
