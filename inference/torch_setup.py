"""Torch, imported once with its threading set: every path (viewer, CLI, training) goes through here.

Torch's OpenMP threads busy-wait ("spin") between parallel regions by default. On a small shared
machine that steals the cores other work needs, and one analysis slows 7–20× whenever anything
else runs. So, before torch is first imported:

* `OMP_WAIT_POLICY=PASSIVE` (and `KMP_BLOCKTIME=0` for Intel's OpenMP): idle threads sleep;
* intra-op threads = the cores this process may use (at most `MAX_THREADS`;
  `RADLENS_TORCH_THREADS` overrides), inter-op threads 1 (the engine runs one graph at a time).

`inference/__init__.py` sets the environment as soon as any `inference` module is imported, before
anything there imports torch; `networks`, `loading` and `engine` (every model path: viewer, CLI,
training, evaluation) call `configure_torch()` when imported, which sets the thread counts once.
A user's own `OMP_WAIT_POLICY`/`KMP_BLOCKTIME` are respected. This module does not import torch
at module level.

`configure_torch()` first loads torch's native libraries through libc's `dlopen`, which ctypes
calls without holding the GIL (`load_native_libraries`): their static initialisers take
0.4–0.6 s on a busy 2-core machine, and inside `import torch` they would hold the GIL all that
time, freezing the viewer's UI thread while its inference runner imports torch (issue 11).
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib.util
import os
import sys
from pathlib import Path

MAX_THREADS = 8
THREADS_VARIABLE = "RADLENS_TORCH_THREADS"
PASSIVE_ENVIRONMENT = {"OMP_WAIT_POLICY": "PASSIVE", "KMP_BLOCKTIME": "0"}


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # macOS, Windows
        return os.cpu_count() or 1


def thread_count() -> int:
    """`RADLENS_TORCH_THREADS` if set to a positive whole number, else min(cores, MAX_THREADS)."""
    override = os.environ.get(THREADS_VARIABLE, "").strip()
    if override.isdigit() and int(override) > 0:
        return int(override)
    return max(1, min(available_cores(), MAX_THREADS))


def configure_environment() -> bool:
    """Set the OpenMP wait policy for torch (a no-op for values the user set). False when torch
    is already imported: its OpenMP runtime has read the environment, too late to change."""
    for name, value in PASSIVE_ENVIRONMENT.items():
        os.environ.setdefault(name, value)
    return "torch" not in sys.modules


def configure_threads(torch_module) -> None:
    """Intra-op threads per `thread_count()`, inter-op 1 (only possible before any parallel work)."""
    torch_module.set_num_threads(thread_count())
    # torch allows setting inter-op threads only once, before any inter-op work ran
    with contextlib.suppress(RuntimeError):
        torch_module.set_num_interop_threads(1)


def load_native_libraries() -> bool:
    """dlopen torch's C extension (with the libraries it links) before `import torch`, with the
    GIL released, so that the import finds them loaded. Linux only; False when torch is already
    imported or anything fails (the import then loads them itself, holding the GIL)."""
    if "torch" in sys.modules or not sys.platform.startswith("linux"):
        return False
    try:
        spec = importlib.util.find_spec("torch")
        folder = Path(spec.origin).parent if spec and spec.origin else None
        dlopen = ctypes.CDLL(None).dlopen  # a foreign call: ctypes releases the GIL around it
        dlopen.restype, dlopen.argtypes = ctypes.c_void_p, [ctypes.c_char_p, ctypes.c_int]
    except (AttributeError, ImportError, OSError, ValueError):
        return False
    extensions = sorted(folder.glob("_C.*.so")) if folder else []
    return any(bool(dlopen(os.fsencode(path), os.RTLD_NOW)) for path in extensions)


_configured = False


def configure_torch() -> None:
    """Import torch with the environment set, and set its thread counts, once per process."""
    global _configured
    configure_environment()  # before the libraries load: OpenMP reads it when it starts
    load_native_libraries()
    import torch

    if not _configured:
        configure_threads(torch)
        _configured = True


__all__ = [
    "configure_environment",
    "configure_threads",
    "configure_torch",
    "load_native_libraries",
    "thread_count",
]
