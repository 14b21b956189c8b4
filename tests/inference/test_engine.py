"""The engine on real radiographs: probabilities, heatmaps on the image grid, intended use, cache."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from inference.engine import OUTSIDE_INTENDED_USE, AnalysisInput, Analyzer
from inference.networks import build_network


@pytest.fixture(scope="module")
def analyzer():
    from tests.inference.conftest import SHIPPED_MODEL

    if not (SHIPPED_MODEL / "card.json").is_file():
        pytest.skip("the shipped model is not in resources/models/pneumonia-cxr")
    return Analyzer(SHIPPED_MODEL, device="cpu")


def test_real_radiograph_gives_probability_and_heatmap_on_its_grid(analyzer, radiograph):
    result = analyzer.analyze(AnalysisInput(pixels=radiograph, source="radiograph"))
    (finding,) = result.findings
    assert finding.label == "pneumonia"
    assert 0.0 <= finding.probability <= 1.0
    assert finding.positive == (finding.probability >= finding.threshold)
    heatmap = result.heatmaps["pneumonia"]
    assert heatmap.shape == radiograph.shape and heatmap.dtype == np.float32
    assert heatmap.min() >= 0.0 and heatmap.max() <= 1.0 and heatmap.max() > 0.5
    assert result.model_sha256 == analyzer.card.weights_sha256 and result.device == "cpu"
    assert {"preprocess", "forward", "gradcam", "total"} <= set(result.timings)
    # a bare array has no header: it runs, said to be unverifiable against the intended use
    assert not result.intended_use_ok and result.warnings == result.intended_use_reasons
    assert result.intended_use_reasons[0].startswith("intended use not verifiable")


def test_batch_gives_the_same_probabilities_as_single_images(analyzer, radiograph):
    flipped = np.ascontiguousarray(radiograph[:, ::-1])
    items = [AnalysisInput(pixels=radiograph), AnalysisInput(pixels=flipped)]
    batch = analyzer.analyze_batch(items)
    singles = [analyzer.analyze(item) for item in items]
    for b, s in zip(batch, singles, strict=True):
        assert b.findings[0].probability == pytest.approx(s.findings[0].probability, abs=1e-5)


def test_outside_intended_use_is_flagged_and_runs_only_when_forced(analyzer, radiograph):
    item = AnalysisInput(
        pixels=radiograph,
        modality="CT",
        body_part="HEAD",
        view="AP",
        from_dicom=True,
        patient_age_years=3.0,
    )
    refused = analyzer.analyze(item)
    assert not refused.intended_use_ok and refused.findings == ()
    assert OUTSIDE_INTENDED_USE in refused.warnings[0]
    assert refused.intended_use_reasons == (
        "modality CT (model: CR, DX)",
        "body part HEAD (model: CHEST)",
    )
    forced = analyzer.analyze(item, force=True)
    assert not forced.intended_use_ok and len(forced.findings) == 1
    assert OUTSIDE_INTENDED_USE in forced.warnings[0]
    assert forced.intended_use_reasons == refused.intended_use_reasons


def test_a_child_frontal_chest_radiograph_passes_the_gate(analyzer, radiograph):
    item = AnalysisInput(
        pixels=radiograph,
        modality="DX",
        body_part="CHEST",
        view="PA",
        from_dicom=True,
        patient_age_years=4.5,
    )
    result = analyzer.analyze(item)
    assert result.intended_use_ok and result.intended_use_reasons == () and result.findings
    assert result.warnings == ()


def test_results_are_cached_per_instance_frame_and_model(analyzer, radiograph):
    item = AnalysisInput(pixels=radiograph, cache_key=("1.2.3.4", 0))
    first = analyzer.analyze(item)
    assert analyzer.analyze(item) is first
    other_frame = analyzer.analyze(AnalysisInput(pixels=radiograph, cache_key=("1.2.3.4", 1)))
    assert other_frame is not first


def test_cache_is_bounded_by_heatmap_bytes(radiograph):
    from tests.inference.conftest import SHIPPED_MODEL

    if not (SHIPPED_MODEL / "card.json").is_file():
        pytest.skip("the shipped model is not in resources/models/pneumonia-cxr")
    one_map = radiograph.size * 4  # float32 heatmap on the image grid
    small = Analyzer(SHIPPED_MODEL, device="cpu", cache_bytes=int(2.5 * one_map))
    results = [
        small.analyze(AnalysisInput(pixels=radiograph, cache_key=("1.2.3.4", frame)))
        for frame in range(4)
    ]
    assert small.analyze(AnalysisInput(pixels=radiograph, cache_key=("1.2.3.4", 3))) is results[3]
    assert (
        small.analyze(AnalysisInput(pixels=radiograph, cache_key=("1.2.3.4", 0))) is not results[0]
    )


def _mid_ranks(values: np.ndarray) -> np.ndarray:
    """Ranks with ties averaged (Grad-CAM maps have large zero areas after the ReLU)."""
    flat = values.ravel()
    _, inverse, counts = np.unique(flat, return_inverse=True, return_counts=True)
    starts = np.cumsum(counts) - counts
    return (starts + (counts - 1) / 2.0)[inverse]


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Rank correlation; 0 when a map is constant (it ranks nothing, so it shares no ranking)."""
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return 0.0
    return float(np.corrcoef(_mid_ranks(a), _mid_ranks(b))[0, 1])


def _small(heatmap: np.ndarray) -> np.ndarray:
    tensor = torch.from_numpy(np.ascontiguousarray(heatmap, dtype=np.float32))[None, None]
    return torch.nn.functional.interpolate(tensor, size=(56, 56), mode="area").numpy()[0, 0]


def test_gradcam_changes_when_the_weights_are_randomised(analyzer, radiograph):
    """Model-randomisation sanity check (Adebayo et al. 2018): a map that survives it explains nothing."""
    item = AnalysisInput(pixels=radiograph)
    trained = _small(analyzer.analyze(item).heatmaps["pneumonia"])
    sample = analyzer._prepare(item)
    batch = ((torch.from_numpy(sample.image) - 0.5) / 0.25)[None, None]
    correlations = []
    for seed in range(3):
        torch.manual_seed(seed)
        card = analyzer.card
        network = build_network(card.architecture, card.architecture_args).eval()
        _, maps = analyzer.heatmap_spec.gradcam(network)(batch.clone())  # the card's own method
        random_map = _small(sample.to_source_grid(maps[0, 0].numpy()))
        correlations.append(_spearman(trained, random_map))
    print("rank correlations trained vs randomised:", correlations)
    assert np.mean(correlations) < 0.5, correlations
    assert _spearman(trained, trained) == pytest.approx(1.0)


def test_unknown_model_is_a_clear_error():
    from inference.errors import ModelError

    with pytest.raises(ModelError, match="not found"):
        Analyzer("no-such-model")


@pytest.mark.cuda
def test_cuda_gives_the_cpu_probability(analyzer, radiograph):
    if not torch.cuda.is_available():
        pytest.skip("no CUDA GPU")
    on_gpu = Analyzer(analyzer.card, device="cuda").analyze(AnalysisInput(pixels=radiograph))
    on_cpu = analyzer.analyze(AnalysisInput(pixels=radiograph))
    assert on_gpu.device.startswith("cuda")
    assert on_gpu.findings[0].probability == pytest.approx(on_cpu.findings[0].probability, abs=1e-3)
    assert on_gpu.heatmaps["pneumonia"].shape == radiograph.shape


def test_explicit_cuda_without_a_gpu_is_a_clear_error(analyzer):
    from inference.errors import InferenceError

    if torch.cuda.is_available():
        pytest.skip("a CUDA GPU is present")
    with pytest.raises(InferenceError, match="no CUDA GPU"):
        Analyzer(analyzer.card, device="cuda")
