"""The PyInstaller one-folder build, built from scratch and exercised with `radlens self-test`.

Slow (a few minutes on two cores): it runs packaging/build.sh into a temporary folder, then the
frozen app's self-test, which decodes every bundled transfer syntax, runs the default model on
the CPU and writes a PDF and DICOM SC/SR.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = REPO_ROOT / "packaging" / "build.sh"
MAX_FOLDER_BYTES = int(1.2 * 1024**3)
BUILD_TIMEOUT_S = 20 * 60
EXPECTED_STEPS = ("open sample", "decode ", "render", "model", "pdf report", "dicom export")

pytestmark = pytest.mark.slow


def folder_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


@pytest.fixture(scope="module")
def frozen_app(tmp_path_factory) -> Path:
    if importlib.util.find_spec("PyInstaller") is None:
        pytest.skip("PyInstaller is not installed (pip install -e '.[test]' or '.[build]')")
    dist = tmp_path_factory.mktemp("dist")
    env = {**os.environ, "PYTHON": sys.executable}
    started = time.monotonic()
    build = subprocess.run(
        ["bash", str(BUILD_SCRIPT), str(dist)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT_S,
    )
    assert build.returncode == 0, build.stdout[-4000:] + build.stderr[-4000:]
    print(f"frozen build took {time.monotonic() - started:.0f} s")
    executable = dist / "radlens" / ("radlens.exe" if sys.platform == "win32" else "radlens")
    assert executable.is_file()
    return executable


def test_frozen_self_test_passes_every_step(frozen_app, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env.update(RADLENS_DATA_DIR=str(tmp_path / "data"), QT_QPA_PLATFORM="offscreen")
    run = subprocess.run(
        [str(frozen_app), "self-test", "--keep", str(tmp_path / "out")],
        cwd=tmp_path,  # not the checkout: resources must come from the bundle
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    lines = run.stdout.splitlines()
    assert run.returncode == 0, run.stdout + run.stderr
    assert not [line for line in lines if line.startswith("FAIL")]
    assert "frozen app" in lines[0], lines[0]
    for step in EXPECTED_STEPS:
        assert any(line.startswith(f"PASS {step}") for line in lines), (step, run.stdout)
    decodes = [line for line in lines if line.startswith("PASS decode ")]
    assert len(decodes) >= 3, run.stdout  # the sample holds several transfer syntaxes
    assert (tmp_path / "out" / "self-test-report.pdf").read_bytes().startswith(b"%PDF-")


def test_frozen_folder_is_lean_and_complete(frozen_app):
    folder = frozen_app.parent
    assert folder_size(folder) < MAX_FOLDER_BYTES
    internal = folder / "_internal"
    assert list(internal.rglob("libqoffscreen*")) and list(internal.rglob("libqxcb*"))
    for dist in ("pylibjpeg_libjpeg", "pylibjpeg_openjpeg", "pylibjpeg_rle", "pydicom"):
        assert list(internal.glob(f"{dist}-*.dist-info")), dist
    assert list((internal / "resources" / "models").glob("*/card.json"))
    assert list((internal / "resources" / "samples").rglob("*.dcm"))
    assert (internal / "resources" / "icons" / "radlens.png").is_file()
    if sys.platform.startswith("linux"):
        entry = (folder / "radlens.desktop").read_text(encoding="utf-8")
        assert "Exec=radlens" in entry and "Icon=radlens" in entry
        assert (folder / "radlens.png").is_file()
    assert not (internal / "torch" / "test").exists()
    assert not list(internal.glob("matplotlib*")) and not list(internal.glob("tkinter*"))


def test_frozen_app_reports_bad_input_without_traceback(frozen_app, tmp_path):
    missing = tmp_path / "no-such-study"
    run = subprocess.run(
        [str(frozen_app), "report", str(missing), "--out", str(tmp_path / "r.pdf")],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "RADLENS_DATA_DIR": str(tmp_path / "data")},
    )
    assert run.returncode == 1
    assert "no such file or folder" in run.stderr and "Traceback" not in run.stderr
