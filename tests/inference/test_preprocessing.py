"""The shared transforms: windowing, MONOCHROME1, resize modes and their inverse mapping."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from inference.preprocessing import InputSpec, normalise, prepare


@dataclass(frozen=True)
class Voi:
    center: float
    width: float


def test_percentile_window_maps_to_unit_range(radiograph):
    sample = prepare(radiograph, InputSpec(size=128))
    assert sample.image.shape == (128, 128)
    assert sample.image.dtype == np.float32
    assert sample.image.min() < 0.01 and sample.image.max() > 0.99


def test_file_window_is_used_when_the_card_says_so():
    ramp = np.linspace(0, 4000, 64 * 64, dtype=np.float32).reshape(64, 64)
    spec = InputSpec(size=64, windowing="file")
    sample = prepare(ramp, spec, window=Voi(center=1000, width=1000))
    expected = np.clip((ramp - 500) / 1000, 0, 1)
    np.testing.assert_allclose(sample.image, expected, atol=1e-5)


def test_monochrome1_is_inverted_once():
    values = np.arange(100, dtype=np.uint16).reshape(10, 10) * 10
    mono2 = prepare(values, InputSpec(size=10), "MONOCHROME2").image
    mono1 = prepare(values, InputSpec(size=10), "MONOCHROME1").image
    np.testing.assert_allclose(mono1, 1.0 - mono2, atol=1e-6)


def test_rgb_grey_values_match_the_grey_image(radiograph):
    rgb = np.repeat(radiograph[..., None], 3, axis=2)
    grey = prepare(radiograph, InputSpec(size=96)).image
    np.testing.assert_allclose(prepare(rgb, InputSpec(size=96), "RGB").image, grey, atol=1e-4)


@pytest.mark.parametrize("mode", ["stretch", "letterbox"])
def test_heatmap_maps_back_onto_the_source_grid(mode):
    image = np.zeros((300, 500), dtype=np.float32)
    image[200:260, 350:450] = 1000.0  # a bright box, off centre
    sample = prepare(image, InputSpec(size=100, resize=mode, percentiles=(0, 100)))
    back = sample.to_source_grid(sample.image)
    assert back.shape == image.shape
    inside, outside = back[210:250, 360:440], back[:150, :300]
    assert inside.mean() > 0.9 and outside.max() < 0.05


def test_letterbox_keeps_aspect_and_pads():
    sample = prepare(np.ones((100, 200), dtype=np.float32), InputSpec(size=64, resize="letterbox"))
    step = sample.geometry[-1]
    assert step.content_shape == (32, 64) and step.offset == (16, 0)
    assert sample.image[:16].max() == 0.0


def test_normalise_uses_the_card_statistics():
    spec = InputSpec(mean=0.4, std=0.2)
    np.testing.assert_allclose(normalise(np.array([0.4, 0.6]), spec), [0.0, 1.0])


def test_a_large_image_is_area_shrunk_before_windowing_whatever_its_type(radiograph):
    grey = np.asarray(radiograph, dtype=np.float32)
    as_float = prepare(grey, InputSpec(size=96))
    assert [step.name for step in as_float.geometry] == ["area_shrink", "stretch"]
    for values in (np.asarray(radiograph, dtype=np.uint8), (grey * 16).astype(np.uint16)):
        np.testing.assert_allclose(
            prepare(values, InputSpec(size=96)).image, as_float.image, atol=2e-3
        )


def test_an_image_of_the_model_size_is_not_resampled():
    values = np.random.default_rng(0).integers(0, 4096, (64, 64)).astype(np.uint16)
    sample = prepare(values, InputSpec(size=64, percentiles=(0, 100)))
    assert [step.name for step in sample.geometry] == ["stretch"]
    expected = (values - values.min()) / float(values.max() - values.min())
    np.testing.assert_allclose(sample.image, expected, atol=1e-6)
