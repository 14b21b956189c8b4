"""`radlens batch` on a real local Dask cluster (2 worker processes), real radiographs and DICOM.

Each run is a real `radlens` process; kills are real SIGKILLs (of the whole process group, or of
one worker process of a cluster the test started), and results.csv must then hold every image
exactly once with the probability `radlens analyze` gives.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SAMPLE_STUDY = REPO_ROOT / "resources" / "samples" / "demo-study"
pytestmark = pytest.mark.slow


def radlens(*args: str, **popen) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.Popen(
        [sys.executable, "-m", "viewer.cli", *args],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **popen,
    )


def finish(process: subprocess.Popen, timeout: float = 300) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=timeout)
    return process.returncode, out, err


def rows(out_dir: Path) -> list[dict]:
    with (out_dir / "results.csv").open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def keys(table: list[dict]) -> Counter:
    return Counter((r["source"], r["frame"]) for r in table)


@pytest.fixture
def images(cxr_dir, tmp_path) -> Path:
    """24 val radiographs (both classes), a truncated copy, and the DICOM sample study."""
    folder = tmp_path / "archive"
    folder.mkdir()
    for label in ("NORMAL", "PNEUMONIA"):
        for path in sorted((cxr_dir / "val" / label).iterdir())[:12]:
            (folder / path.name).write_bytes(path.read_bytes())
    first = sorted(folder.iterdir())[0]
    (folder / "truncated.jpeg").write_bytes(first.read_bytes()[:2000])
    if SAMPLE_STUDY.is_dir():
        for path in SAMPLE_STUDY.glob("chest-ap-*.dcm"):
            (folder / path.name).write_bytes(path.read_bytes())
    return folder


def analyze_probabilities(folder: Path) -> dict[str, float]:
    code, out, err = finish(radlens("analyze", str(folder), "--json", "--device", "cpu"))
    assert code in (0, 1), err
    return {
        e["path"]: e["findings"][0]["probability"] for e in json.loads(out) if e.get("findings")
    }


def test_batch_on_local_cluster_matches_analyze_and_reports_the_corrupt_file(images, tmp_path):
    out = tmp_path / "out"
    code, stdout, err = finish(radlens("batch", str(images), "--out", str(out), "--json"))
    assert code == 1, err  # one image could not be read; the rest ran
    summary = json.loads(stdout)
    table = rows(out)
    assert max(keys(table).values()) == 1 and len(table) == summary["done"] + summary["error"]
    broken = [r for r in table if r["status"] == "error"]
    assert [Path(r["source"]).name for r in broken] == ["truncated.jpeg"]
    assert broken[0]["error"]
    expected = analyze_probabilities(images)
    done = {r["source"]: float(r["probability"]) for r in table if r["status"] == "done"}
    assert done.keys() == expected.keys()
    for source, probability in done.items():
        assert probability == pytest.approx(expected[source], abs=1e-5)
    assert {r["model_version"] for r in table if r["status"] == "done"} == {
        json.loads((out / "state.json").read_text())["model_version"]
    }

    again = json.loads(finish(radlens("batch", str(images), "--out", str(out), "--json"))[1])
    assert again["done"] == 0 and again["already_done"] == len(table)
    assert rows(out) == table


def test_sigkill_at_any_point_then_rerun_gives_every_image_exactly_once(images, tmp_path):
    out = tmp_path / "out"
    expected = {p.name for p in images.iterdir()}
    for wait_rows in (0, 9):  # killed while starting, then while writing results
        process = radlens(
            "batch", str(images), "--out", str(out), "--engine", "local", start_new_session=True
        )
        _wait_for_rows(out, wait_rows, process)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    code, _, err = finish(radlens("batch", str(images), "--out", str(out)))
    assert code == 1, err
    table = rows(out)
    assert max(keys(table).values()) == 1
    assert {Path(r["source"]).name for r in table} == expected


def test_a_killed_worker_is_replaced_and_its_images_run(images, tmp_path):
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        out = tmp_path / "out"
        process = radlens(
            "batch", str(images), "--out", str(out), "--address", cluster.scheduler_address
        )
        _wait_for_rows(out, 1, process)
        victim = next(iter(client.run(os.getpid).values()))
        os.kill(victim, signal.SIGKILL)
        code, _, err = finish(process)
        assert code in (1, 3), err
        if code == 3:  # the dead worker's chunk failed too often: the next run retries it
            code, _, err = finish(radlens("batch", str(images), "--out", str(out)))
        assert code == 1, err
        table = rows(out)
        assert max(keys(table).values()) == 1
        assert {Path(r["source"]).name for r in table} == {p.name for p in images.iterdir()}
        assert victim not in client.run(os.getpid).values()  # the nanny started a new process


def test_rows_lost_to_failures_or_torn_writes_are_run_again(images, tmp_path):
    out = tmp_path / "out"
    code, _, err = finish(radlens("batch", str(images), "--out", str(out), "--engine", "local"))
    assert code == 1, err
    table = rows(out)
    lines = (out / "results.csv").read_text().splitlines(keepends=True)
    failed = lines[1].split(",")[0]
    lines[1] = f"{failed},,,,,,,,,,failed,KilledWorker: lost\n"
    (out / "results.csv").write_text("".join(lines) + lines[2][: len(lines[2]) // 2])
    code, stdout, err = finish(
        radlens("batch", str(images), "--out", str(out), "--engine", "local", "--json")
    )
    assert code == 1, err
    assert json.loads(stdout)["done"] >= 1
    again = rows(out)
    assert max(keys(again).values()) == 1 and keys(again) == keys(table)


def test_another_model_in_the_same_folder_and_unknown_engines_are_refused_in_one_line(
    images, tmp_path
):
    out = tmp_path / "out"
    out.mkdir()
    (out / "state.json").write_text(
        json.dumps({"model_name": "other", "model_version": "9", "model_sha256": "ab" * 32})
    )
    code, _, err = finish(radlens("batch", str(images), "--out", str(out)))
    assert code == 2 and "use another --out folder" in err and len(err.strip().splitlines()) == 1
    code, _, err = finish(
        radlens("batch", str(images), "--out", str(tmp_path / "o2"), "--engine", "ray")
    )
    assert code == 2 and "not supported" in err and "Traceback" not in err


def _wait_for_rows(out: Path, count: int, process: subprocess.Popen, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        path = out / "results.csv"
        if path.exists() and path.read_text().count("\n") > count:
            return
        time.sleep(0.05)
    assert process.poll() is None, "the batch finished before it could be killed"
