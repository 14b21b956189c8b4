"""Torch's threading is set once, before torch is first imported, whichever path imports it."""

from __future__ import annotations

import sys

import pytest

from tests.fresh_python import run_fresh

# Records the wait policy torch's OpenMP runtime sees when torch is first imported.
PROBE = """
import json, os, sys
seen = {}
def hook(event, args):
    if event == "import" and args[0] == "torch" and "policy" not in seen:
        seen["policy"] = os.environ.get("OMP_WAIT_POLICY")
sys.addaudithook(hook)
%s
import torch
print(json.dumps({**seen, "threads": torch.get_num_threads(),
                  "interop": torch.get_num_interop_threads()}))
"""


def probe(first_code: str, **env: str) -> dict:
    return run_fresh(PROBE % first_code, env=env, unset=("OMP_WAIT_POLICY",))


ANALYZE = """
from viewer.cli import main
main(["analyze", "--device", "cpu", "%s"])
"""


@pytest.mark.parametrize("first_code", ["import inference.engine", "import inference.training"])
def test_every_path_imports_torch_with_passive_waiting(first_code):
    from inference.torch_setup import thread_count

    seen = probe(first_code)
    assert seen["policy"] == "PASSIVE"  # set before torch's OpenMP runtime started
    assert seen["threads"] == thread_count() and seen["interop"] == 1


def test_radlens_analyze_imports_torch_with_passive_waiting(radiograph_path):
    from inference.torch_setup import thread_count

    seen = probe(ANALYZE % radiograph_path)
    assert seen == {"policy": "PASSIVE", "threads": thread_count(), "interop": 1}


def test_the_thread_count_can_be_set_and_a_users_policy_is_kept():
    seen = probe("import inference.engine", RADLENS_TORCH_THREADS="1", OMP_WAIT_POLICY="ACTIVE")
    assert seen == {"policy": "ACTIVE", "threads": 1, "interop": 1}


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="native preload is Linux-only")
def test_torch_native_libraries_load_before_torch_is_imported():
    code = (
        "import json, sys\n"
        "from inference.torch_setup import load_native_libraries\n"
        "loaded = load_native_libraries()\n"
        "before = 'torch' in sys.modules\n"
        "import torch\n"
        "print(json.dumps([loaded, before, float(torch.ones(2).sum())]))\n"
    )
    assert run_fresh(code) == [True, False, 2.0]
