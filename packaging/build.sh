#!/usr/bin/env bash
# One-folder PyInstaller build of RadLens for the current OS: DIST_DIR/radlens/radlens[.exe].
# Usage: bash packaging/build.sh [DIST_DIR]   (default: dist/)   PYTHON=... picks the interpreter.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(dirname "$HERE")"
DIST="$(mkdir -p "${1:-$ROOT/dist}" && cd "${1:-$ROOT/dist}" && pwd)"
WORK="${RADLENS_BUILD_WORK:-$DIST/.build}"
PY="${PYTHON:-$ROOT/.venv/bin/python}"
[ -x "$PY" ] || PY="$(command -v python3)"

"$PY" -c "import PyInstaller" 2>/dev/null || {
  echo "build.sh: PyInstaller is not installed for $PY (pip install '.[build]')" >&2; exit 2; }

start=$(date +%s)
"$PY" -m PyInstaller --noconfirm --clean --log-level WARN \
  --distpath "$DIST" --workpath "$WORK" "$HERE/radlens.spec"
rm -rf "$WORK"
if [ "$(uname -s)" = Linux ]; then
  install -m 644 "$HERE/radlens.desktop" "$DIST/radlens/radlens.desktop"
  install -m 644 "$ROOT/resources/icons/radlens.png" "$DIST/radlens/radlens.png"
fi
echo "build.sh: $DIST/radlens built in $(( $(date +%s) - start )) s, $(du -sh "$DIST/radlens" | cut -f1)"
