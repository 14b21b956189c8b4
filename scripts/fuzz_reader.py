"""Mutation fuzzer for the DICOM reading core (scan → index → Series → decode → load_volume).

A seeded loop mutates real files (bit flips, truncation, byte insertion, element-length
corruption, or several at once) and feeds each mutant to a worker process that runs the public
API on it. Counted: inputs, crashes (any exception other than RadLensError escaping the API, or
the worker dying), hangs (an input taking longer than --timeout; the worker is then killed and
restarted) and slow inputs (over --slow seconds). Crashing/hanging/slow inputs are kept in --out
for replay.

    python scripts/fuzz_reader.py --minutes 5 --seed 1 [--out /tmp/radlens-fuzz]
    python scripts/fuzz_reader.py --replay FILE      # run one input in-process, show traceback
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import resource
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

SHARED = Path(os.environ.get("RADLENS_SHARED_DATA", REPO.parent / "shared" / "data")) / "dicom"
PYDICOM_SEEDS = (
    "MR_small_RLE.dcm",
    "MR_small_jpeg_ls_lossless.dcm",
    "JPEG2000.dcm",
    "SC_rgb_jpeg_dcmtk.dcm",
    "MR_small_bigendian.dcm",
    "image_dfl.dcm",
    "examples_palette.dcm",
    "rtdose.dcm",
)
MEMORY_LIMIT = 3 * 1024**3  # a worker hitting this gets MemoryError, not the OOM killer
MAX_FRAMES_DECODED = 4


def seed_files() -> list[Path]:
    """Real inputs: a CT slice, MR slices, enhanced MR, and pydicom's compressed samples."""
    seeds = []
    for pattern in (
        "ct-phantom-54sl/I10",
        "mr-sag-t1-hfs/3_t1_fl2d_sag/0001_*",
        "enhanced-mr/*/*.dcm",
    ):
        seeds.extend(sorted(SHARED.glob(pattern))[:2])
    import pydicom

    test_files = Path(pydicom.data.__file__).parent / "test_files"
    seeds.extend(test_files / n for n in PYDICOM_SEEDS if (test_files / n).exists())
    return seeds


# --- mutations -------------------------------------------------------------------------
def flip_bits(data: bytearray, rng: random.Random) -> None:
    for _ in range(rng.randint(1, 16)):
        position = rng.randrange(len(data))
        data[position] ^= 1 << rng.randrange(8)


def truncate(data: bytearray, rng: random.Random) -> None:
    del data[rng.randrange(len(data)) :]


def insert_bytes(data: bytearray, rng: random.Random) -> None:
    position = rng.randrange(len(data) + 1)
    data[position:position] = rng.randbytes(rng.randint(1, 64))


def corrupt_length(data: bytearray, rng: random.Random) -> None:
    """Overwrite the length of an explicit-VR element (found by its two-letter VR)."""
    candidates = [
        i
        for i in range(132, min(len(data), 16384) - 8)
        if data[i + 4 : i + 6].isalpha() and data[i + 4 : i + 6].isupper()
    ]
    if not candidates:
        flip_bits(data, rng)
        return
    i = rng.choice(candidates)
    value = rng.choice([0, 1, 0xFFFF, 0xFFFFFFFF, rng.randrange(1 << 32), len(data)])
    if data[i + 4 : i + 6] in (b"OB", b"OW", b"SQ", b"UN", b"UT", b"OF", b"UC", b"UR"):
        data[i + 8 : i + 12] = value.to_bytes(4, "little")
    else:
        data[i + 6 : i + 8] = (value & 0xFFFF).to_bytes(2, "little")


MUTATIONS = (flip_bits, truncate, insert_bytes, corrupt_length)


def mutate(original: bytes, rng: random.Random) -> tuple[bytes, str]:
    data = bytearray(original)
    chosen = rng.sample(MUTATIONS, rng.choice((1, 1, 1, 2, 3)))
    for mutation in chosen:
        if data:
            mutation(data, rng)
    return bytes(data), "+".join(m.__name__ for m in chosen)


# --- the code under test, run in the worker --------------------------------------------
def exercise(path: str) -> str:
    """Run the public API on one file; RadLensError is an accepted outcome."""
    from viewer.core.errors import RadLensError
    from viewer.core.index import build_index
    from viewer.core.loader import load_volume
    from viewer.core.series import open_series

    index = build_index([path])
    for info in index.all_series():
        try:
            series = open_series(info)
            for i in range(min(len(series), MAX_FRAMES_DECODED)):
                series.modality_frame(i)
                series.geometry(i)
                series.windows(i)
                series.voi_lut(i)
                series.default_window(i)
            load_volume(info, workers=0)
        except RadLensError:
            return "rejected"
    return "opened" if index.all_series() else "skipped"


def worker_loop(connection) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    import warnings

    warnings.simplefilter("ignore")
    while True:
        path = connection.recv()
        try:
            connection.send(("ok", exercise(path)))
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException:  # noqa: BLE001 - reported to the parent as a crash
            connection.send(("crash", traceback.format_exc(limit=6)))


class Worker:
    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")
        self.parent, child = context.Pipe()
        self.process = context.Process(target=worker_loop, args=(child,), daemon=True)
        self.process.start()

    def run(self, path: str, timeout: float) -> tuple[str, str]:
        self.parent.send(path)
        if not self.parent.poll(timeout):
            return "hang", f"no answer within {timeout} s"
        try:
            return self.parent.recv()
        except EOFError:
            self.process.join(timeout=2)
            return "crash", f"worker died (exit code {self.process.exitcode})"

    def stop(self) -> None:
        self.process.kill()
        self.process.join()


def fuzz(minutes: float, seed: int, out: Path, timeout: float, slow: float = 2.0) -> dict:
    rng = random.Random(seed)
    seeds = [(p.name, p.read_bytes()) for p in seed_files()]
    out.mkdir(parents=True, exist_ok=True)
    counts = {"inputs": 0, "crashes": 0, "hangs": 0, "slow": 0}
    counts.update(opened=0, rejected=0, skipped=0)
    deadline = time.monotonic() + minutes * 60
    worker = Worker()
    with tempfile.TemporaryDirectory(prefix="radlens-fuzz-") as tmp:
        sample = Path(tmp, "input.dcm")
        while time.monotonic() < deadline:
            name, original = rng.choice(seeds)
            data, how = mutate(original, rng)
            sample.write_bytes(data)
            started = time.monotonic()
            status, detail = worker.run(str(sample), timeout)
            counts["inputs"] += 1
            if status == "ok":
                counts[detail] += 1
                if time.monotonic() - started > slow:
                    counts["slow"] += 1
                    shutil.copyfile(sample, out / f"slow-{counts['inputs']:06d}-{how}-{name}")
                continue
            counts["crashes" if status == "crash" else "hangs"] += 1
            kept = out / f"{status}-{counts['inputs']:06d}-{how}-{name}"
            shutil.copyfile(sample, kept)
            kept.with_suffix(".txt").write_text(detail)
            print(f"{status}: {kept.name}\n{detail}", flush=True)
            if worker.process.is_alive() and status == "crash" and "worker died" not in detail:
                continue
            worker.stop()
            worker = Worker()
    worker.stop()
    return counts


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=20.0, help="seconds per input")
    parser.add_argument("--slow", type=float, default=2.0, help="count inputs slower than this")
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "radlens-fuzz")
    parser.add_argument("--replay", type=Path, help="run one saved input in this process")
    args = parser.parse_args()
    if args.replay:
        print(exercise(str(args.replay)))
        return 0
    start = time.monotonic()
    counts = fuzz(args.minutes, args.seed, args.out, args.timeout, args.slow)
    elapsed = time.monotonic() - start
    summary = ", ".join(f"{k} {v}" for k, v in counts.items())
    print(
        f"seed {args.seed}, {elapsed / 60:.1f} min, {counts['inputs'] / elapsed:.1f} inputs/s: {summary}"
    )
    return 1 if counts["crashes"] or counts["hangs"] else 0


if __name__ == "__main__":
    sys.exit(main())
