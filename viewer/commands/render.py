"""`radlens render`: write one frame as a PNG exactly as the viewer shows it on open.

With `--plane axial|coronal|sagittal` the frame is a patient plane reformatted from the whole
series (`viewer.core.mpr`): square pixels spanning the volume, radiological convention,
`--frame` counted from the inferior, posterior or right side (default the middle), and an
optional thick slab (`--slab MM --mode mip|minip|mean`).
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

import numpy as np

from viewer.core.atomic import atomic_write_bytes
from viewer.core.errors import RadLensError
from viewer.core.mpr import PLANES, SLAB_MODES
from viewer.core.overlay_planes import burn_overlay, frame_overlay
from viewer.core.presets import find_preset, presets_for
from viewer.core.render import initial_voi, modality_padding, render_array
from viewer.core.voi import Voi, Window, validate_window

SKIP_REASONS_SHOWN = 3


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "render",
        help="write a frame as a PNG, as the viewer shows it",
        description=(
            "Render one frame at full resolution to an 8-bit grey or RGB PNG, with the file's own "
            "VOI (window or VOI LUT), or the full range of the modality values where it has none."
        ),
    )
    parser.add_argument("path", type=Path, help="DICOM file, folder, .zip or DICOMDIR")
    parser.add_argument("--out", type=Path, required=True, metavar="FILE.png")
    parser.add_argument("--series", metavar="UID", help="SeriesInstanceUID (default: the first)")
    parser.add_argument(
        "--frame",
        type=frame_argument,
        default=None,
        metavar="K|middle",
        help="0-based (default 0; with --plane: middle, counted from inferior/posterior/right)",
    )
    parser.add_argument(
        "--plane", choices=PLANES, help="reformat the series to this patient plane (LPS)"
    )
    parser.add_argument(
        "--slab", type=float, default=0.0, metavar="MM", help="thick slab (with --plane), mm"
    )
    parser.add_argument("--mode", choices=SLAB_MODES, default="mip", help="slab: mip, minip, mean")
    voi = parser.add_mutually_exclusive_group()
    voi.add_argument("--window", nargs=2, type=float, metavar=("CENTER", "WIDTH"))
    voi.add_argument("--preset", metavar="NAME", help="e.g. lung, bone, brain (CT); auto; full")
    parser.add_argument("--invert", action="store_true", help="invert grey levels (XOR MONO1)")
    parser.add_argument(
        "--no-overlay-planes",
        action="store_true",
        help="leave out the file's overlay planes (60xx graphics; drawn by default)",
    )
    parser.add_argument(
        "--seg",
        type=Path,
        action="append",
        default=[],
        metavar="SEG.dcm",
        help="draw this DICOM SEG's segments over the frame (repeatable)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        image = render_request(args)
        atomic_write_bytes(args.out, png_bytes(image))
    except RadLensError as exc:  # its message already names the file
        print(f"radlens render: {exc}", file=sys.stderr)
        return 1
    except (ValueError, KeyError) as exc:  # a window or preset the request got wrong
        print(f"radlens render: {args.path}: {_message(exc)}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"radlens render: {args.out}: cannot write ({exc.strerror or exc})", file=sys.stderr)
        return 1
    except Exception as exc:  # noqa: BLE001 - the CLI boundary: a message, never a traceback
        reason = f"{type(exc).__name__}: {exc}"
        print(f"radlens render: {args.path}: could not render ({reason})", file=sys.stderr)
        return 1
    height, width = image.shape[:2]
    print(f"wrote {args.out} ({width}x{height}, {'RGB' if image.ndim == 3 else 'grey'})")
    return 0


def frame_argument(text: str) -> int | str:
    if text.strip().lower() == "middle":
        return "middle"
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a frame number or 'middle', not {text!r}"
        ) from None


def render_request(args: argparse.Namespace) -> np.ndarray:
    """Open the series asked for and render the frame with the VOI asked for."""
    from viewer.core.series import open_series

    with open_series(select_series(args.path, args.series)) as opened:  # releases its files
        return render_series(opened, args)


def render_series(series, args: argparse.Namespace) -> np.ndarray:
    """The frame `args` ask for of the open `series`, rendered with the VOI asked for."""
    if args.plane:
        series = reformatted(series, args)
    elif args.slab:
        raise RadLensError(f"{args.path}: --slab needs --plane")
    frame = check_frame(series, args.path, resolve_frame(series, args.frame, bool(args.plane)))
    values = series.modality_frame(frame)
    voi = choose_voi(series, frame, values, args)
    image = render_array(values, voi, series.photometric, invert=args.invert)
    if not args.plane and not args.no_overlay_planes:  # planes belong to acquired frames
        image = burn_overlay(image, frame_overlay(series, frame))
    for path in args.seg:
        image = draw_segmentation(image, series, frame, path)
    return image


def draw_segmentation(image: np.ndarray, series, frame: int, path: Path) -> np.ndarray:
    """The frame with the SEG's segments painted in their colours (a note when none is here)."""
    from viewer.core.seg import (
        blend_rgba,
        read_segmentation,
        segment_layers,
        segment_rgba,
        target_image,
    )

    seg = read_segmentation(path)
    layers = segment_layers(seg, target_image(series, frame))
    if not layers:
        print(f"radlens render: {path}: no segment lies on frame {frame}", file=sys.stderr)
        return image
    return blend_rgba(image, segment_rgba(layers, seg))


def select_series(path: Path, series_uid: str | None):
    """The series `series_uid` (or key) in `path`, else its first displayable series."""
    from viewer.core.index import build_index

    if not path.exists():
        raise RadLensError(f"{path}: no such file or folder")
    index = build_index([path])
    candidates = [s for s in index.all_series() if s.frames]
    if not candidates:
        raise RadLensError(f"{path}: nothing renderable ({_skip_summary(index.skipped)})")
    if series_uid is None:
        return candidates[0]
    for info in candidates:
        if series_uid in (info.series_instance_uid, info.key):
            return info
    raise RadLensError(f"{path}: no series with UID {series_uid} ({len(candidates)} series here)")


def reformatted(series, args: argparse.Namespace):
    """The series as the requested patient plane (every frame loaded, volume built)."""
    from viewer.core.plane_series import PlaneSeries
    from viewer.core.volume import VolumeError, build_volume

    try:
        volume = build_volume(series)
    except VolumeError as exc:  # names the series; say which input it came from
        raise RadLensError(f"{args.path}: {exc}") from None
    for warning in volume.warnings:
        print(f"radlens render: {args.path}: {warning}", file=sys.stderr)
    plane = PlaneSeries(series, volume, args.plane)
    if args.slab < 0:
        raise RadLensError(f"{args.path}: --slab must be 0 or more millimetres")
    plane.set_slab(args.slab, args.mode)
    return plane


def resolve_frame(series, frame: int | str | None, planar: bool) -> int:
    if frame == "middle" or (frame is None and planar):
        return (len(series) - 1) // 2
    return 0 if frame is None else int(frame)


def check_frame(series, path: Path, frame: int) -> int:
    count = len(series)
    if not 0 <= frame < count:
        raise RadLensError(
            f"{path}: frame {frame} is out of range (the series has {count}: 0..{count - 1})"
        )
    return frame


def choose_voi(series, frame: int, values: np.ndarray, args: argparse.Namespace) -> Voi | None:
    """--window, else --preset, else what the viewer opens with."""
    if series.is_color:
        if args.window is not None or args.preset:
            print("radlens render: colour image, --window/--preset ignored", file=sys.stderr)
        return None
    if args.window is not None:
        window = Window(center=args.window[0], width=args.window[1])
        validate_window(window)
        return window
    if args.preset:
        padding = modality_padding(series, frame)
        presets = presets_for(series.info.modality, series.windows(frame), values, padding)
        return find_preset(args.preset, presets).window
    return initial_voi(series, frame, values)


def png_bytes(image: np.ndarray) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()  # uint8 HxW is saved as 8-bit grey ("L"), HxWx3 as RGB
    Image.fromarray(np.ascontiguousarray(image, dtype=np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def _skip_summary(skipped) -> str:
    if not skipped:
        return "no DICOM image found"
    shown = "; ".join(f"{Path(s.path).name}: {s.reason}" for s in skipped[:SKIP_REASONS_SHOWN])
    more = len(skipped) - SKIP_REASONS_SHOWN
    return shown + (f"; and {more} more skipped" if more > 0 else "")


def _message(exc: Exception) -> str:
    return str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
