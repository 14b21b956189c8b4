"""Whole-series loading: `load_volume(info, progress=None, cancel=None, workers=None)`.

Returns `(volume, skipped)`: one slot per `info.frames` entry holding modality values (stored
dtype for identity rescale, int16 for an integral rescale int16 holds exactly — CT in HU —,
float32 otherwise: `decode.modality_dtype`; RGB uint8 for colour), plus one SkippedFile per
file with frames that could not be decoded (their slots stay zero). Meant for a background thread: it calls
`progress(done, total)` and stops with `LoadCancelled` when `cancel` is set.

Uncompressed little-endian frames are read with one `readinto` each at the Pixel Data offset
the header scan recorded (checked against the element header first), straight into the
preallocated volume; frames whose layout moved fall back to pydicom. Compressed frames are
decoded in worker processes (spawn-safe ProcessPoolExecutor), off the caller's GIL, which write
them straight into a volume in shared memory (`shared_volume`) and send back only whether each
frame decoded.
"""

from __future__ import annotations

import atexit
import contextlib
import multiprocessing
import os
import threading
import warnings
from collections import defaultdict
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, replace
from functools import partial

import numpy as np
from pydicom.uid import (
    JPEG2000,
    JPEG2000MC,
    DeflatedExplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEG2000MCLossless,
    JPEGLSLossless,
    JPEGLSNearLossless,
)

from viewer.core.decode import (
    decode_deflated,
    is_colour,
    modality_dtype,
    prefer_throughput,
    raw_dtype,
    read_raw_into,
    read_stored_frame,
    rescale_into,
    stored_dtype,
    to_modality,
)
from viewer.core.discovery import display_path
from viewer.core.errors import DicomReadError, LoadCancelled
from viewer.core.index import FrameRef, SeriesInfo, is_cancelled
from viewer.core.scan import (
    PixelFormat,
    SkippedFile,
    expected_pixel_bytes,
    read_header_dataset,
    short_error,
)
from viewer.core.shared_volume import SegmentRef, SharedVolume, as_array, map_segment

CHUNK_FRAMES = 8  # frames per worker task: amortises pickling without starving a worker
SHARED_TASKS_PER_WORKER = 8  # into shared memory: enough tasks that none waits at the end
MIN_FRAMES_FOR_WORKERS = 24
LARGE_FRAME_PIXELS = 1024 * 1024
SLOW_SYNTAXES = frozenset(
    {JPEGLSLossless, JPEGLSNearLossless, JPEG2000Lossless, JPEG2000, JPEG2000MCLossless, JPEG2000MC}
)


def load_volume(info: SeriesInfo, progress=None, cancel=None, workers: int | None = None):
    """Decode every frame of `info`; see the module docstring."""
    modality = modality_dtype(info)
    volume = allocate_volume(info, modality)
    loader = _Loader(info, volume, modality, progress, cancel)
    fast, slow = loader.read_native_frames()
    if slow and info.pixel_format and info.transfer_syntax == DeflatedExplicitVRLittleEndian:
        loader.decode_deflated(slow)
    elif slow:
        workers = choose_workers(len(slow), workers, info)
        if workers:
            loader.decode_in_processes(slow, workers)
        else:
            loader.decode_here(slow)
    return loader.volume, one_per_file(loader.skipped, info)


def one_per_file(skipped: list[SkippedFile], info: SeriesInfo) -> list[SkippedFile]:
    """One entry per file: a multi-frame file whose frames failed is one file, not N."""
    by_path: dict[str, list[str]] = {}
    for entry in skipped:
        by_path.setdefault(entry.path, []).append(entry.reason)
    frames_in = {display_path(f.path): f.number_of_frames for f in info.frames}
    result = []
    for path, reasons in by_path.items():
        total = frames_in.get(path, 1)
        if total > 1:
            reasons = [f"{len(reasons)} of {total} frames could not be decoded ({reasons[0]})"]
        result.append(SkippedFile(path, reasons[0]))
    return result


def allocate_volume(info: SeriesInfo, modality: np.dtype | None) -> np.ndarray:
    shape = (len(info.frames), info.rows, info.columns)
    if is_colour(info):
        return np.zeros((*shape, 3), np.uint8)
    if modality is not None:
        return np.zeros(shape, modality)
    fmt = info.pixel_format
    return np.zeros(shape, stored_dtype(fmt) if fmt else np.float32)


def choose_workers(frames: int, requested: int | None, info: SeriesInfo | None = None) -> int:
    """0 (decode in this process) for small jobs; else the requested or CPU-based count."""
    if requested is not None:
        return max(0, requested)
    if frames < min_frames_for_workers(info):
        return 0
    return max(1, min(4, (os.cpu_count() or 2)))


def min_frames_for_workers(info: SeriesInfo | None) -> int:
    """Fewest compressed frames worth starting worker processes for.

    Decoders hold the interpreter lock while they run, so a frame decoded on the loader thread
    stalls the UI thread as long. Cheap codecs (RLE, JPEG) on ordinary frames decode here below
    `MIN_FRAMES_FOR_WORKERS`; JPEG 2000 and JPEG-LS (tens of ms per 512² frame) and large frames
    go to worker processes from two frames on.
    """
    if info is None:
        return MIN_FRAMES_FOR_WORKERS
    if info.transfer_syntax in SLOW_SYNTAXES or info.rows * info.columns >= LARGE_FRAME_PIXELS:
        return 2
    return MIN_FRAMES_FOR_WORKERS


class _Loader:
    def __init__(self, info: SeriesInfo, volume, modality, progress, cancel) -> None:
        self.info, self.volume, self.modality = info, volume, modality
        self.progress, self.cancel = progress, cancel
        self.skipped: list[SkippedFile] = []
        self.done = 0

    def _tick(self, count: int = 1) -> None:
        self.done += count
        if self.progress:
            self.progress(self.done, len(self.info.frames))

    def _check_cancel(self) -> None:
        if is_cancelled(self.cancel):
            raise LoadCancelled(f"loading {self.info.key} cancelled")

    def read_native_frames(self) -> tuple[list[int], list[int]]:
        """Read what the fast path can; return (read, still to decode) frame indices."""
        fmt = self.info.pixel_format
        dtype = raw_dtype(fmt) if fmt and not self.info.has_modality_lut_sequence else None
        if dtype is None:
            return [], list(range(len(self.info.frames)))
        buffer = np.empty((self.info.rows, self.info.columns), dtype)
        fast, slow = [], []
        for k, ref in enumerate(self.info.frames):
            if k % 16 == 0:
                self._check_cancel()
            target = buffer if self.modality is not None else self.volume[k]
            if self._read_native(ref, fmt, target):
                if self.modality == np.int16:  # stored bits only: exact in int16 arithmetic
                    rescale_into(buffer, ref.rescale, self.volume[k])
                elif self.modality is not None:
                    self.volume[k] = to_modality(buffer, ref.rescale, self.modality)
                fast.append(k)
                self._tick()
            else:
                slow.append(k)
        return fast, slow

    @staticmethod
    def _read_native(ref: FrameRef, fmt: PixelFormat, target: np.ndarray) -> bool:
        try:
            with open(ref.path, "rb") as fp:
                return read_raw_into(fp, ref, fmt, target)
        except OSError:
            return False

    def decode_here(self, indices: list[int]) -> None:
        job = DecodeJob.of(self.info, self.modality)
        for k in indices:
            self._check_cancel()
            self._store(k, *decode_one(job, self.info.frames[k]))

    def decode_deflated(self, indices: list[int]) -> None:
        """Deflated files in one forward pass each (decoding frame by frame would inflate a
        file from its start again for every frame: quadratic)."""
        info = self.info
        frame_bytes = expected_pixel_bytes(info.pixel_format, info.rows, info.columns, 1)
        needs_header = DecodeJob.of(info, self.modality).needs_header
        slots_by_path: dict[str, dict[int, int]] = defaultdict(dict)
        for k in indices:
            slots_by_path[info.frames[k].path][info.frames[k].frame_index] = k
        for path, slots in slots_by_path.items():
            reason = "frame not found after inflating"
            try:
                header = read_header(path) if needs_header else None
                for frame_index, stored in decode_deflated(path, list(slots), frame_bytes, header):
                    self._check_cancel()
                    k = slots.pop(frame_index)
                    values = to_modality(stored, info.frames[k].rescale, self.modality, header)
                    self._store(k, values, "")
            except LoadCancelled:
                raise
            except (KeyboardInterrupt, SystemExit):
                raise
            except BaseException as exc:  # noqa: BLE001 - the rest of this file fails, not the load
                reason = exc.reason if isinstance(exc, DicomReadError) else short_error(exc)
            for k in slots.values():
                self._store(k, None, reason)

    def decode_in_processes(self, indices: list[int], workers: int) -> None:
        """Decode in worker processes, straight into a shared-memory volume (`shared_volume`)
        when every frame is to be decoded (the usual compressed series; a volume that already
        holds frames read here would have to be copied); else frames come back through the
        pool's pipe."""
        shared = None
        if len(indices) == len(self.volume):
            shared = SharedVolume.create(self.volume.shape, self.volume.dtype)
        if shared is not None:
            self.volume = shared.array
        try:
            self._run_pool(indices, workers, shared)
        finally:
            if shared is not None:
                shared.unlink()

    def _run_pool(self, indices: list[int], workers: int, shared: SharedVolume | None) -> None:
        job = DecodeJob.of(self.info, self.modality)
        if shared is None:
            # Through the pipe workers send stored values (half the bytes of float32 for 16-bit
            # data) and the float rescale happens here; an int16 rescale (as many bytes as the
            # stored values) and a Modality LUT Sequence (needs the header) in the worker.
            in_worker = job.needs_header or job.modality == np.int16
            job = replace(job, modality=job.modality if in_worker else None)
        task = (
            partial(decode_chunk, job)
            if shared is None
            else partial(decode_chunk_into, job, shared.ref)
        )
        frames = [(k, self.info.frames[k]) for k in indices]
        size = chunk_frames(len(frames), workers, shared is not None)
        chunks = [frames[i : i + size] for i in range(0, len(frames), size)]
        pool = worker_pool(workers)
        pending = {pool.submit(task, chunk): chunk for chunk in chunks}
        try:
            while pending:
                finished, _ = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
                for future in finished:
                    self._collect(future, pending.pop(future), job)
                self._check_cancel()
        finally:
            for future in pending:
                future.cancel()

    def _collect(self, future, chunk, job: DecodeJob) -> None:
        try:
            results = future.result()
        except (BrokenProcessPool, OSError):
            # A decoder aborted its process (GDCM on a corrupt stream), or the worker could
            # not map the shared volume: this chunk is decoded here instead, by the decoders
            # that raise rather than abort.
            discard_pool()
            results = [(k, *decode_one(job, ref)) for k, ref in chunk]
        for k, *outcome in results:
            if len(outcome) == 1:  # the worker wrote it into the shared volume, or says why not
                self._store(k, None, outcome[0], written=True)
                continue
            values, reason = outcome
            if values is not None and job.modality is None:
                values = to_modality(values, self.info.frames[k].rescale, self.modality)
            self._store(k, values, reason)

    def _store(self, k: int, values: np.ndarray | None, reason: str, written=False) -> None:
        reason = shape_problem(values, self.volume.shape[1:]) or reason
        if reason:
            ref = self.info.frames[k]
            self.skipped.append(SkippedFile(display_path(ref.path), reason))
        elif not written:
            self.volume[k] = values
        self._tick()


def shape_problem(values: np.ndarray | None, shape: tuple[int, ...]) -> str:
    if values is not None and values.shape != shape:
        return f"decoded frame has shape {values.shape}, expected {shape}"
    return ""


def chunk_frames(frames: int, workers: int, shared: bool) -> int:
    """Frames per worker task. Through the pipe, chunks amortise pickling; into shared memory
    a task costs little, so smaller chunks keep every worker busy to the end."""
    if not shared:
        return CHUNK_FRAMES
    return max(1, min(CHUNK_FRAMES, frames // (workers * SHARED_TASKS_PER_WORKER)))


@dataclass(frozen=True)
class DecodeJob:
    """What a worker needs to decode frames of one series (small to pickle)."""

    rows: int
    columns: int
    pixel_format: PixelFormat | None
    needs_header: bool  # palette colour or a Modality LUT Sequence
    modality: np.dtype | None  # see decode.modality_dtype; None: stored values

    @classmethod
    def of(cls, info: SeriesInfo, modality: np.dtype | None) -> DecodeJob:
        needs_header = info.photometric == "PALETTE COLOR" or info.has_modality_lut_sequence
        return cls(info.rows, info.columns, info.pixel_format, needs_header, modality)


_pools: dict[int, ProcessPoolExecutor] = {}
_pools_lock = threading.Lock()


def worker_pool(workers: int) -> ProcessPoolExecutor:
    """A spawn-context pool kept between loads (process start-up costs ~0.5 s each)."""
    with _pools_lock:
        if workers not in _pools:
            context = multiprocessing.get_context("spawn")
            _pools[workers] = ProcessPoolExecutor(
                max_workers=workers, mp_context=context, initializer=prefer_throughput
            )
        return _pools[workers]


def discard_pool() -> None:
    """Forget broken pools; the next load starts fresh workers."""
    with _pools_lock:
        for workers, pool in list(_pools.items()):
            if getattr(pool, "_broken", False):
                pool.shutdown(wait=False, cancel_futures=True)
                del _pools[workers]


@atexit.register
def shutdown_workers() -> None:
    """Stop the decoder processes (called at exit; the UI may call it on close)."""
    with _pools_lock:
        pools = list(_pools.values())
        _pools.clear()
    for pool in pools:
        pool.shutdown(wait=True, cancel_futures=True)


def decode_one(job: DecodeJob, ref: FrameRef):
    """(values, "") or (None, reason) for one frame, through pydicom."""
    try:
        header = read_header(ref.path) if job.needs_header else None
        stored = read_stored_frame(ref, job.pixel_format, job.rows, job.columns, header, raw=False)
        return to_modality(stored, ref.rescale, job.modality, header), ""
    except DicomReadError as exc:
        return None, exc.reason
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # noqa: BLE001 - a corrupt LUT or header fails this frame only
        return None, short_error(exc)


def decode_into(job: DecodeJob, ref: FrameRef, slot: np.ndarray) -> str:
    """Decode one frame into its slot of the volume; the reason it failed, or ''."""
    values, reason = decode_one(job, ref)
    reason = reason or shape_problem(values, slot.shape)
    if not reason:
        slot[...] = values
    return reason


def read_header(path: str):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return read_header_dataset(path)
    except Exception as exc:  # noqa: BLE001 - any parser failure is this file's reason
        raise DicomReadError(display_path(path), short_error(exc)) from None


def decode_chunk_into(job: DecodeJob, volume: SegmentRef, frames: list[tuple[int, FrameRef]]):
    """Worker-process entry point: decode frames into the shared volume; (slot, reason) back."""
    mapping = map_segment(volume)
    try:
        return [(k, decode_into(job, ref, as_array(mapping, volume)[k])) for k, ref in frames]
    finally:
        with contextlib.suppress(BufferError):  # a view still held: unmapped when it is freed
            mapping.close()


def decode_chunk(job: DecodeJob, frames: list[tuple[int, FrameRef]]):
    """Worker-process entry point: decode some frames of a series."""
    return [(k, *decode_one(job, ref)) for k, ref in frames]


_warm_ups: dict[int, tuple[ProcessPoolExecutor, list]] = {}  # workers → (pool, warm-up futures)


def decode_frame_in_worker(
    info: SeriesInfo, index: int, *, here_while_starting: bool = False, cancel=None
) -> np.ndarray:
    """Frame `index` of `info` in modality values (as `Series.modality_frame` keeps them),
    decoded in a process of the volume loader's pool, which this starts when needed.

    For one frame shown before the volume load (first image, thumbnail): the JPEG 2000 and
    JPEG-LS decoders hold the interpreter lock for the whole decode (tens of ms per 512² frame),
    which on a thread stalls the UI thread as long. `here_while_starting`: unless the pool's
    processes run already, decode in this process at once instead (a first image with nothing
    on screen yet: ~1 s sooner), and leave starting them to the next call (starting them at
    once made that first image and the header scan beside them slower). A worker dying on the
    file (a decoder aborting) costs its pool, as in `load_volume`: the frame is then decoded
    here by the decoders that raise. Raises DicomReadError(file, reason) when the frame does
    not decode, LoadCancelled once `cancel` is set.
    """
    workers = choose_workers(MIN_FRAMES_FOR_WORKERS, None, info)
    job, ref = DecodeJob.of(info, modality_dtype(info)), info.frames[index]
    try:
        pool = worker_pool(workers)
        started = _warm_ups.get(workers, (None, []))
        ready = started[0] is pool and all(future.done() for future in started[1])
        if here_while_starting and not ready:
            values, reason = decode_one(job, ref)
        else:
            if started[0] is not pool:  # a new pool: every worker loads its imports now
                warm_up = [pool.submit(decode_chunk, job, []) for _ in range(workers)]
                _warm_ups[workers] = (pool, warm_up)
            values, reason = _decoded_in(pool, job, index, ref, cancel)
    except BrokenProcessPool:
        discard_pool()
        values, reason = decode_one(job, ref)
    if values is None:
        raise DicomReadError(display_path(ref.path), reason)
    return values


def _decoded_in(pool, job: DecodeJob, index: int, ref: FrameRef, cancel):
    future = pool.submit(decode_chunk, job, [(index, ref)])
    while not is_cancelled(cancel):  # checked before each wait: a cancelled load waits for none
        if wait([future], timeout=0.2).done:
            break
    else:
        future.cancel()
        raise LoadCancelled(f"decoding {display_path(ref.path)} cancelled")
    [(_, values, reason)] = future.result()
    return values, reason
