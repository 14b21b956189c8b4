"""This installation's secret: the key of the hashes RadLens makes from patient data.

A key that RadLens derives for files whose UIDs are empty (`index.derived_key`) hashes the
patient's name, ID and birth date among other things. A plain hash of those is a guessable
pseudonym: anyone with a list of names and birth dates can hash them and match. Keyed with a
random secret (`keyed_digest`), the key is the same at every run of this installation and
cannot be recomputed without the secret.

The secret is 32 random bytes in `installation-secret.bin` in the per-user data folder
(`viewer.paths.user_data_dir`, beside the measurement sidecars that use the keys), created at
first use, readable by its owner only, and never replaced while it is whole: two RadLens
starting at once agree on one (`atomic.atomic_create_bytes`). Another installation has another
secret, so the same files get other keys there (copying the whole data folder takes the secret,
and the measurements, along). Where the data folder cannot be written, this run uses a secret
of its own: keys stay the same for the run, as long as the measurements, which could not be
kept there either.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import secrets
import threading
from pathlib import Path

from viewer.core.atomic import atomic_create_bytes
from viewer.paths import user_data_dir

SECRET_FILE = "installation-secret.bin"
SECRET_BYTES = 32

_secrets: dict[Path, bytes] = {}  # by file: the data folder can move (RADLENS_DATA_DIR)
_lock = threading.Lock()


def keyed_digest(*parts) -> str:
    """Hex HMAC-SHA256 of the parts (as text, NUL-separated) under this installation's secret."""
    message = "\0".join(map(str, parts)).encode("utf-8", "replace")
    return hmac.new(installation_secret(), message, hashlib.sha256).hexdigest()


def secret_path() -> Path:
    return user_data_dir() / SECRET_FILE


def installation_secret() -> bytes:
    """The secret in the data folder, created there at first use (read once per process)."""
    path = secret_path()
    with _lock:
        if path not in _secrets:
            _secrets[path] = _load_or_create(path)
        return _secrets[path]


def _load_or_create(path: Path) -> bytes:
    try:
        stored = _read_whole(path)
        if stored is None:
            atomic_create_bytes(path, secrets.token_bytes(SECRET_BYTES))
            stored = _read_whole(path)
    except OSError:
        stored = None
    return stored if stored is not None else secrets.token_bytes(SECRET_BYTES)


def _read_whole(path: Path) -> bytes | None:
    """The stored secret (its permissions narrowed to the owner's if wider); None when there is
    none, or a damaged one (which is removed, to be made again)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    if len(data) != SECRET_BYTES:
        path.unlink(missing_ok=True)
        return None
    if os.name != "nt" and path.stat().st_mode & 0o077:
        with contextlib.suppress(OSError):  # not ours to change: still the secret
            os.chmod(path, 0o600)
    return data
