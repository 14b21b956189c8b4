"""Multi-planar reformatting on real volumes, checked against headers read here with pydicom and
against SimpleITK resampling the same voxels with the real direction cosines."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk

from tests.conftest import SHARED_DATA
from viewer.core.index import build_index
from viewer.core.mpr import PLANES, plane_grid, sample_plane
from viewer.core.plane_series import PlaneSeries
from viewer.core.series import open_series
from viewer.core.volume import VolumeError, build_volume, check_orientations, volume_from_stack

MR_3D = SHARED_DATA / "dicom" / "mr-3d-t1-130sl"
CT_TILTED = SHARED_DATA / "dicom" / "ct-phantom-54sl"
MR_SAG = SHARED_DATA / "dicom" / "mr-sag-t1-hfs" / "3_t1_fl2d_sag"
OUTSIDE = -1e6


def _needs(path: Path) -> Path:
    if not path.is_dir():
        pytest.skip(f"real test data not found at {path} (needs ../shared/data beside the repo)")
    return path


def open_only_series(folder):
    (info,) = [s for s in build_index([folder]).all_series() if s.frames]
    return open_series(info)


@pytest.fixture(scope="module")
def mr():
    series = open_only_series(_needs(MR_3D))
    return series, build_volume(series)


@pytest.fixture(scope="module")
def ct():
    series = open_only_series(_needs(CT_TILTED))
    return series, build_volume(series)


@pytest.fixture(scope="module")
def mr_sag():
    series = open_only_series(_needs(MR_SAG))
    return series, build_volume(series)


# --- independent reference: headers by pydicom, resampling by SimpleITK -----------------------


def header_geometry(paths):
    """origin and the (frame, row, column) step vectors from the files' own headers."""
    first, last = (pydicom.dcmread(p, stop_before_pixels=True) for p in (paths[0], paths[-1]))
    row_cos = np.array(first.ImageOrientationPatient[:3], float)
    col_cos = np.array(first.ImageOrientationPatient[3:], float)
    d_row, d_col = (float(x) for x in first.PixelSpacing)
    p0 = np.array(first.ImagePositionPatient, float)
    step = (np.array(last.ImagePositionPatient, float) - p0) / (len(paths) - 1)
    return p0, np.column_stack([step, d_row * col_cos, d_col * row_cos])


def sitk_reference(values, paths, grid, k):
    """SimpleITK's linear resampling of `values` (frames in `paths` order) onto frame k."""
    origin, steps = header_geometry(paths)
    image = sitk.GetImageFromArray(np.asarray(values, np.float32))  # index order (x=col, y=row, z)
    xyz = steps[:, ::-1]  # columns: column step, row step, frame step
    spacing = np.linalg.norm(xyz, axis=0)
    image.SetOrigin(origin.tolist())
    image.SetSpacing(spacing.tolist())
    image.SetDirection((xyz / spacing).flatten().tolist())
    reference = sitk.Image(grid.columns, grid.rows, 1, sitk.sitkFloat32)
    reference.SetOrigin(grid.frame_origin(k).tolist())
    reference.SetSpacing([grid.spacing, grid.spacing, 1.0])
    reference.SetDirection(np.column_stack([grid.u, grid.v, grid.w]).flatten().tolist())
    out = sitk.Resample(image, reference, sitk.Transform(), sitk.sitkLinear, OUTSIDE)
    return sitk.GetArrayFromImage(out)[0]


def assert_matches_sitk(series, volume, plane, k=None, tolerance=0.51):
    grid = plane_grid(volume, plane)
    k = grid.middle() if k is None else k
    ours = sample_plane(volume, grid, k).astype(np.float64)
    paths = [f.path for f in series.info.frames]
    theirs = sitk_reference(series.volume, paths, grid, k)
    both = theirs > OUTSIDE / 2
    both &= ours != volume.fill
    assert both.mean() > 0.2, "the plane should cut through the volume"
    assert np.max(np.abs(ours[both] - theirs[both])) <= tolerance


# --- geometry ------------------------------------------------------------------------------------


EDGES = {
    "axial": {"left": "R", "right": "L", "top": "A", "bottom": "P"},
    "coronal": {"left": "R", "right": "L", "top": "H", "bottom": "F"},
    "sagittal": {"left": "A", "right": "P", "top": "H", "bottom": "F"},
}


@pytest.mark.parametrize("plane", PLANES)
def test_planes_are_patient_planes_in_radiological_convention(mr, plane):
    _, volume = mr
    grid = plane_grid(volume, plane)
    geometry = grid.geometry(0)
    assert geometry.edge_labels() == EDGES[plane]
    assert geometry.spacing == pytest.approx((0.9375, 0.9375))  # square, the finest spacing
    first, last = grid.frame_origin(0), grid.frame_origin(grid.frames - 1)
    axis, grows = {"axial": (2, True), "coronal": (1, False), "sagittal": (0, True)}[plane]
    assert (last[axis] > first[axis]) == grows  # from inferior, posterior, right


@pytest.mark.parametrize("plane", PLANES)
def test_grid_spans_the_volume_bounding_box(mr, plane):
    series, volume = mr
    origin, steps = header_geometry([f.path for f in series.info.frames])
    top = np.array([len(series) - 1, series.info.rows - 1, series.info.columns - 1], float)
    corners = np.array(
        [
            origin + steps @ (np.array([a, b, c]) * top)
            for a in (0, 1)
            for b in (0, 1)
            for c in (0, 1)
        ]
    )
    grid = plane_grid(volume, plane)
    for axis, count, step in (
        (grid.u, grid.columns, grid.spacing),
        (grid.v, grid.rows, grid.spacing),
    ):
        low, high = (corners @ axis).min(), (corners @ axis).max()
        assert grid.origin @ axis == pytest.approx(low, abs=1e-6)
        assert low + (count - 1) * step <= high + 1e-6 < low + count * step


def test_mr_volume_keeps_the_series_voxels_without_copy(mr):
    series, volume = mr
    assert np.shares_memory(volume.values, series.volume)
    assert volume.values.dtype == np.int16
    assert volume.warnings == []  # 13° oblique but not sheared: positions along the normal


def test_a_marked_voxel_lands_on_the_same_patient_point_in_every_plane(mr, ct):
    for series, volume in (mr, ct):
        values = volume.values.astype(np.float32)
        index = np.array(volume.shape) // 3
        values[tuple(index)] = 1e7  # far above anything interpolation can make of its neighbours
        positions = np.array([f.position for f in series.info.frames], float)
        marked = volume_from_stack("marked", values, positions, series.geometry(0))
        point = header_geometry([f.path for f in series.info.frames])[0]
        point = point + header_geometry([f.path for f in series.info.frames])[1] @ index
        for plane in PLANES:
            grid = plane_grid(marked, plane)
            image = sample_plane(marked, grid, grid.nearest_frame(point))
            row, col = np.unravel_index(np.argmax(image), image.shape)
            found = grid.geometry(grid.nearest_frame(point)).pixel_to_patient(row, col)
            in_plane = found - point - ((found - point) @ grid.w) * grid.w
            assert np.linalg.norm(in_plane) <= grid.spacing * 0.75, plane
            assert abs((found - point) @ grid.w) <= grid.frame_step / 2 + 1e-6, plane


# --- values against SimpleITK ------------------------------------------------------------------


@pytest.mark.parametrize("plane", PLANES)
def test_oblique_mr_matches_simpleitk(mr, plane):
    series, volume = mr
    assert_matches_sitk(series, volume, plane)


@pytest.mark.parametrize("plane", PLANES)
def test_tilted_gantry_ct_matches_simpleitk_with_the_sheared_geometry(ct, plane):
    series, volume = ct
    assert any("18.5° off their normal (tilted gantry)" in w for w in volume.warnings)
    assert volume.values.dtype == np.int16  # HU kept exactly: planes round to whole HU
    assert_matches_sitk(series, volume, plane)


def test_sagittal_plane_of_a_sagittal_stack_is_the_acquired_frame(mr_sag):
    series, volume = mr_sag
    grid = plane_grid(volume, "sagittal")
    assert grid.frames == len(series)
    for k in (0, 17, len(series) - 1):  # frame 0 is the patient's right: acquired last (+x first)
        plane = sample_plane(volume, grid, k)
        acquired = series.modality_frame(len(series) - 1 - k)
        assert plane.dtype == acquired.dtype
        assert np.array_equal(plane, acquired)


def test_thick_slabs_combine_the_voxels_across_the_slab(mr_sag):
    series, volume = mr_sag
    grid = plane_grid(volume, "sagittal")
    k, n = 17, len(series)
    neighbours = np.stack([series.modality_frame(n - 1 - j) for j in (k - 1, k, k + 1)])
    slab = 3 * volume.spacing()[0]  # 14.4 mm: three 4.8 mm slices
    assert np.array_equal(sample_plane(volume, grid, k, slab, "mip"), neighbours.max(0))
    assert np.array_equal(sample_plane(volume, grid, k, slab, "minip"), neighbours.min(0))
    mean = np.rint(neighbours.mean(0, dtype=np.float64))
    assert np.max(np.abs(sample_plane(volume, grid, k, slab, "mean") - mean)) <= 1


def test_oblique_slab_orders_mip_over_thin_over_minip(mr):
    _, volume = mr
    grid = plane_grid(volume, "coronal")
    k = grid.middle()
    thin = sample_plane(volume, grid, k).astype(int)
    mip = sample_plane(volume, grid, k, 10.0, "mip").astype(int)
    minip = sample_plane(volume, grid, k, 10.0, "minip").astype(int)
    mean = sample_plane(volume, grid, k, 10.0, "mean").astype(int)
    inside = thin != volume.fill
    assert np.all(mip[inside] >= thin[inside]) and np.all(minip[inside] <= thin[inside])
    assert np.all((minip <= mean + 1) & (mean <= mip + 1))
    assert (mip > thin).mean() > 0.1


# --- stacks made from real files: tilted, uneven, not a volume --------------------------------


def copy_with(paths, folder: Path, edit) -> Path:
    folder.mkdir()
    for n, path in enumerate(paths):
        ds = pydicom.dcmread(path)
        edit(n, ds)
        ds.save_as(folder / f"im{n:03d}.dcm")
    return folder


def test_tilted_gantry_variant_of_a_real_series_reformats_without_shear(mr_sag, tmp_path):
    series, _ = mr_sag
    paths = [f.path for f in series.info.frames]
    shift = np.tan(np.radians(20.0))

    def tilt(n, ds):  # each slice shifted along its column direction (20° gantry tilt)
        position = np.array(ds.ImagePositionPatient, float)
        distance = n * 4.8
        ds.ImagePositionPatient = [*(position + distance * shift * np.array([0.0, 0.0, -1.0]))]

    tilted = open_only_series(copy_with(paths, tmp_path / "tilted", tilt))
    volume = build_volume(tilted)
    assert any("20.0° off their normal" in w for w in volume.warnings)
    for plane in PLANES:
        assert_matches_sitk(tilted, volume, plane)
    # The shear is undone: each tilted file's pixel (r, c) is voxel (n, r, c) of the volume.
    origin_n, steps = header_geometry([tilted.info.frames[0].path, tilted.info.frames[1].path])
    for n, row, col in ((0, 0, 0), (10, 98, 59), (34, 255, 128)):
        header = pydicom.dcmread(tilted.info.frames[n].path, stop_before_pixels=True)
        point = np.array(header.ImagePositionPatient, float) + steps[:, 1:] @ [row, col]
        assert np.allclose(volume.patient_to_index(point), [n, row, col], atol=1e-6)


def test_uneven_spacing_is_resampled_and_says_so(mr, tmp_path):
    series, full = mr
    kept = [f.path for n, f in enumerate(series.info.frames) if n < 60 or n % 2 == 0]
    folder = tmp_path / "uneven"
    folder.mkdir()
    for path in kept:
        shutil.copy(path, folder / Path(path).name)
    uneven = open_only_series(folder)
    volume = build_volume(uneven)
    (warning,) = [w for w in volume.warnings if "uneven" in w]
    assert "1.20–2.40 mm" in warning and "resampled to 1.20 mm" in warning
    assert volume.shape == (129, 256, 256)  # back on the 1.2 mm grid, frames 0..128
    assert np.allclose(volume.matrix, full.matrix, atol=1e-3)
    assert np.array_equal(volume.values[:60], full.values[:60])
    assert np.array_equal(volume.values[60::2], full.values[60:129:2])
    between = (full.values[60:127:2].astype(float) + full.values[62:129:2]) / 2
    assert np.max(np.abs(volume.values[61::2] - between)) <= 0.5


def test_repeated_positions_are_not_a_volume(mr_sag, tmp_path):
    series, _ = mr_sag
    paths = [f.path for f in series.info.frames[:5]]

    def same_place(n, ds):
        ds.ImagePositionPatient = pydicom.dcmread(paths[n // 2 * 2]).ImagePositionPatient

    repeated = open_only_series(copy_with(paths, tmp_path / "repeated", same_place))
    with pytest.raises(VolumeError, match="5 frames at only 3 distinct slice positions"):
        build_volume(repeated)


def test_mixed_orientations_and_stray_positions_are_not_a_volume(mr_sag):
    series, _ = mr_sag
    orientation = series.info.frames[0].orientation
    tilted = (*orientation[:3], 0.0, 0.0995, -0.995)
    with pytest.raises(VolumeError, match="mixed orientations"):
        check_orientations("sag", [orientation, orientation, tilted])
    positions = np.array([f.position for f in series.info.frames], float)
    positions[10] += [0.0, 5.0, 0.0]
    with pytest.raises(VolumeError, match="do not lie on one line"):
        volume_from_stack("sag", series.volume, positions, series.geometry(0))


def test_plane_size_stays_bounded_whatever_the_headers_claim(mr_sag):
    from viewer.core.geometry import FrameGeometry

    series, _ = mr_sag
    tiny_pixels = FrameGeometry(256, 256, (0.001, 0.001), None, (0, 1, 0), (0, 0, -1))
    positions = np.array([[-500.0 * k, 0, 0] for k in range(len(series))])  # 0.5 m apart
    volume = volume_from_stack("claims", series.volume, positions, tiny_pixels)
    for plane in PLANES:
        grid = plane_grid(volume, plane)
        assert max(grid.rows, grid.columns, grid.frames) <= 4 * 256
        assert sample_plane(volume, grid, grid.middle()).shape == (grid.rows, grid.columns)


# --- PlaneSeries: the Series interface ------------------------------------------------------------


def test_plane_series_serves_frames_geometry_and_windows(mr):
    series, volume = mr
    coronal = PlaneSeries(series, volume, "coronal")
    k = coronal.grid.middle()
    assert not coronal.frame_ready(k)
    assert coronal.default_window(k) is not None  # from the file or the volume: nothing computed
    assert not coronal.frame_ready(k)
    frame = coronal.modality_frame(k)
    assert coronal.frame_ready(k) and not frame.flags.writeable
    assert frame.shape == (coronal.info.rows, coronal.info.columns)
    assert coronal.geometry(k).edge_labels() == EDGES["coronal"]
    assert coronal.info.frames[k].position == coronal.geometry(k).origin
    coronal.set_slab(10.0, "mip")
    assert not coronal.frame_ready(k) and coronal.slab_label() == "MIP 10 mm"
    assert coronal.geometry(k).slice_thickness == 10.0


@pytest.mark.parametrize(("plane", "slab"), [("axial", 0.0), ("axial", 10.0), ("sagittal", 0.0)])
def test_source_frames_are_the_acquired_slices_the_plane_draws_from(mr, plane, slab):
    """Changing a slice outside `source_frames` leaves the plane as it was; changing the first
    or the last of them changes it (the oblique MR's axial plane cuts some of its slices)."""
    series, volume = mr
    planes = PlaneSeries(series, volume, plane)
    planes.set_slab(slab, "mean")
    k = planes.grid.middle()
    drawn = planes.source_frames(k)
    assert drawn == list(range(drawn[0], drawn[-1] + 1)) and len(drawn) > 1
    assert (len(drawn) < len(series.info.frames)) == (plane == "axial")

    def sampled_with(frames):
        values = np.array(volume.values)
        values[frames] = values.max() + 100
        return sample_plane(replace(volume, values=values), planes.grid, k, slab, "mean")

    unchanged = sample_plane(volume, planes.grid, k, slab, "mean")
    outside = [f for f in range(len(series.info.frames)) if f not in drawn]
    assert np.array_equal(sampled_with(outside), unchanged)
    for end in (drawn[0], drawn[-1]):
        assert not np.array_equal(sampled_with([end]), unchanged)


# --- radlens render --plane ---------------------------------------------------------------------


def _render(tmp_path, *args: str):
    from PIL import Image

    from viewer.cli import main

    out = tmp_path / "plane.png"
    status = main(["render", *args, "--out", str(out)])
    if not out.exists():
        return status, None
    with Image.open(out) as image:
        return status, np.asarray(image).copy()


def test_render_cli_writes_the_plane_as_the_viewer_shows_it(mr, tmp_path):
    from viewer.core.render import initial_voi, render_array

    series, volume = mr
    status, png = _render(
        tmp_path, str(MR_3D), "--plane", "coronal", "--slab", "10", "--mode", "mip"
    )
    plane = PlaneSeries(series, volume, "coronal")
    plane.set_slab(10.0, "mip")
    k = plane.grid.middle()  # --frame defaults to the middle
    expected = render_array(plane.modality_frame(k), initial_voi(plane, k), plane.photometric)
    assert status == 0 and png.shape == (plane.grid.rows, plane.grid.columns)
    assert np.array_equal(png, expected)
    status, first = _render(tmp_path, str(MR_3D), "--plane", "axial", "--frame", "0")
    assert status == 0 and first.shape == (plane_grid(volume, "axial").rows, plane.grid.columns)


@pytest.mark.parametrize(
    ("source", "args", "reason"),
    [
        ("mr-3d", ["--slab", "10"], "--slab needs --plane"),
        ("one file", ["--plane", "axial"], "one frame is not a volume"),
        ("mr-sag", ["--plane", "sagittal", "--frame", "35"], "frame 35 is out of range"),
    ],
)
def test_render_cli_plane_errors_are_one_line(tmp_path, capsys, source, args, reason):
    from pydicom.data import get_testdata_file

    paths = {"mr-3d": MR_3D, "mr-sag": MR_SAG}
    path = get_testdata_file("CT_small.dcm") if source == "one file" else _needs(paths[source])
    status, png = _render(tmp_path, str(path), *args)
    err = capsys.readouterr().err
    assert status != 0 and png is None
    assert reason in err and str(path) in err and "Traceback" not in err
