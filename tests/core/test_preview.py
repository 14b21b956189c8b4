"""preview_series: the first plain image file of the input, opened alone, before any scan."""

from __future__ import annotations

import shutil
import zipfile

from viewer.core.preview import preview_series


def test_a_folder_previews_its_first_image_file_skipping_documents(ct_phantom_dir, tmp_path):
    folder = tmp_path / "study"
    folder.mkdir()
    (folder / "0-README.txt").write_text("not an image")
    first = sorted(ct_phantom_dir.iterdir())[0]
    shutil.copy(first, folder / "1-image")
    shutil.copy(sorted(ct_phantom_dir.iterdir())[1], folder / "2-image")
    series = preview_series([folder])
    assert len(series) == 1 and series.info.frames[0].path == str(folder / "1-image")
    assert series.modality_frame(0).shape == (512, 512)


def test_archives_and_non_images_give_no_preview(ct_phantom_dir, tmp_path):
    archive = tmp_path / "study.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(sorted(ct_phantom_dir.iterdir())[0], "I1")
    assert preview_series([archive]) is None  # expanded once, by the index
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "x.bin").write_bytes(b"\0" * 300)
    assert preview_series([tmp_path / "notes"]) is None
    assert preview_series([]) is None
