"""Where batch chunks run: in this process (`local`) or on a Dask distributed cluster (`dask`).

Dask, not Ray, because it is pure Python (a few MB; Ray is a ~100 MB native runtime with its own
object store and dashboard), starts a local cluster in seconds on a 2-core machine, and gives
what a batch needs from the engine: worker processes supervised by nannies (a worker that dies
is restarted and its tasks rescheduled), `as_completed` to write results as they finish, and
`Client(address)` to use a real cluster unchanged (`dask scheduler` / `dask worker ADDRESS` on
the machines, each with RadLens installed). See docs/BATCH.md.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from viewer.batch.worker import failed_rows, run_chunk

ENGINES = ("dask", "local", "ray")
# One torch thread per worker process, and no busy-waiting: workers share the machine's cores.
WORKER_ENVIRONMENT = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OMP_WAIT_POLICY": "PASSIVE"}


class EngineError(Exception):
    """The engine could not start (bad address, engine not available): one line for the user."""


@dataclass(frozen=True)
class EngineOptions:
    engine: str = "dask"
    address: str | None = None  # an existing cluster's scheduler; None = start one here
    workers: int = 2
    model: str | None = None
    device: str = "cpu"
    force: bool = False
    chunk_size: int = 8
    export_dir: str | None = None  # DICOM results written here per image (for --send-to)


OnRows = Callable[[list, list[dict]], None]  # (jobs of the chunk, their result rows)


def run_jobs(jobs: list, options: EngineOptions, on_rows: OnRows) -> None:
    """Analyse every job, calling `on_rows` as each chunk finishes (in completion order)."""
    chunks = list(_chunks(jobs, options.chunk_size))
    if options.engine == "local":
        for chunk in chunks:
            on_rows(chunk, _safe_run(chunk, options))
    elif options.engine == "dask":
        _run_on_dask(chunks, options, on_rows)
    else:
        raise EngineError(
            f"engine '{options.engine}' is not supported: RadLens batches on Dask "
            "(--engine dask, the default) or in this process (--engine local); see docs/BATCH.md"
        )


def _safe_run(chunk: list, options: EngineOptions) -> list[dict]:
    try:
        return run_chunk(*_chunk_arguments(chunk, options))
    except Exception as exc:  # noqa: BLE001 - a lost chunk is retried by the next run
        return failed_rows(chunk, f"{type(exc).__name__}: {exc}")


def _run_on_dask(chunks: list[list], options: EngineOptions, on_rows: OnRows) -> None:
    from distributed import as_completed

    with _dask_client(options) as client:
        pending = iter(chunks)
        in_flight = max(2, 2 * _worker_count(client))
        futures = {_submit(client, chunk, options): chunk for chunk in _take(pending, in_flight)}
        queue = as_completed(list(futures))
        for future in queue:
            chunk = futures.pop(future)
            on_rows(chunk, _result_rows(future, chunk))
            for more in _take(pending, 1):
                new = _submit(client, more, options)
                futures[new] = more
                queue.add(new)


def _submit(client, chunk: list, options: EngineOptions):
    return client.submit(run_chunk, *_chunk_arguments(chunk, options), pure=False)


def _chunk_arguments(chunk: list, options: EngineOptions) -> tuple:
    return chunk, options.model, options.device, options.force, options.export_dir


def _result_rows(future, chunk: list) -> list[dict]:
    try:
        return future.result()
    except Exception as exc:  # noqa: BLE001 - KilledWorker, lost connection: retried next run
        return failed_rows(chunk, f"{type(exc).__name__}: {str(exc)[:200]}")


def _dask_client(options: EngineOptions):
    os.environ.update(WORKER_ENVIRONMENT)  # inherited by the local cluster's worker processes
    from distributed import Client, LocalCluster

    try:
        if options.address:
            return Client(options.address, timeout="20s")
        cluster = LocalCluster(
            n_workers=max(1, options.workers),
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            silence_logs=logging.ERROR,
        )
        return _ClusterClient(cluster, Client(cluster))
    except (OSError, TimeoutError) as exc:
        raise EngineError(f"cannot reach the Dask scheduler {options.address}: {exc}") from exc


class _ClusterClient:
    """A client that also closes the local cluster it was made for."""

    def __init__(self, cluster, client):
        self.cluster, self.client = cluster, client

    def __getattr__(self, name):
        return getattr(self.client, name)

    def __enter__(self):
        return self.client

    def __exit__(self, *exc_info):
        self.client.close()
        self.cluster.close()


def _worker_count(client) -> int:
    return max(1, len(client.scheduler_info().get("workers", {})))


def _chunks(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), max(1, size)):
        yield items[start : start + size]


def _take(iterator: Iterator, count: int) -> list:
    taken = []
    for item in iterator:
        taken.append(item)
        if len(taken) == count:
            break
    return taken
