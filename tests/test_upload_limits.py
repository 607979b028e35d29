"""An upload staged once and identified by content (csmae_core.io.upload.open_upload), the cap on all
files of one upload together, and the declared decoded size checked before anything is decoded."""
from __future__ import annotations

import gc
import os
import tempfile
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin
from rasterio.windows import Window

from csmae_core.errors import InputError
from csmae_core.io.upload import open_upload, read_upload, safety, upload_layout
from tests.test_upload import s2_stack, write_tif

UTM33 = "EPSG:32633"


def named(path: Path, name: str | None = None) -> tuple[str, bytes]:
    return (name or path.name, path.read_bytes())


# ------------------------------------------------------------------------------- content identity


def test_uploads_are_identified_by_content_not_by_name_and_size(tmp_path):
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    first = write_tif(tmp_path / "a" / "scene.tif", s2_stack(12, seed=1))
    second = write_tif(tmp_path / "b" / "scene.tif", s2_stack(12, seed=2))
    assert first.stat().st_size == second.stat().st_size and first.read_bytes() != second.read_bytes()
    with open_upload([named(first)]) as a, open_upload([named(second)]) as b, \
            open_upload([named(first)]) as again, open_upload([named(first, "other.tif")]) as renamed:
        assert a.key != b.key and a.key == again.key and a.key != renamed.key
        assert len(a.key) == 64
        assert not np.array_equal(a.read().bands["B02"], b.read().bands["B02"])
    with open_upload(first) as by_path:  # a path is hashed from its bytes too
        assert by_path.key == a.key


def test_an_opened_upload_is_staged_once_and_read_per_window(tmp_path):
    path = write_tif(tmp_path / "big.tif", s2_stack(12, size=300))
    with open_upload([named(path)]) as opened:
        staged = opened.paths[0]
        written = (staged.stat().st_ino, staged.stat().st_mtime_ns)
        assert staged.read_bytes() == path.read_bytes()
        assert Path(tempfile.gettempdir()) in staged.parents
        layout = opened.layout()
        assert (layout.width, layout.height) == (300, 300) and layout.overview is not None
        assert opened.layout() is layout  # computed once
        for window in ((0, 0), (90, 90), (180, 10)):
            record = opened.read(window)
            expected = read_upload([named(path)], window=window)
            assert record.meta["window"] == window and record.notes == expected.notes
            assert all(np.array_equal(record.bands[b], expected.bands[b]) for b in expected.bands)
        assert (staged.stat().st_ino, staged.stat().st_mtime_ns) == written  # never written again
    assert not staged.exists() and not staged.parent.parent.exists()  # close() removed the staged copy


def test_the_staged_copy_goes_when_the_upload_is_collected(tmp_path):
    opened = open_upload([named(write_tif(tmp_path / "p.tif", s2_stack(12)))])
    folder = opened.paths[0].parent.parent
    assert folder.is_dir()
    del opened
    gc.collect()
    assert not folder.exists()


def test_a_failed_check_leaves_no_staged_copy(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    with pytest.raises(InputError, match="is not a GeoTIFF"):
        with open_upload([("notes.tif", b"hello")]) as opened:
            opened.read()
    with pytest.raises(InputError):
        open_upload([("a" * 300 + ".tif", b"x")])  # refused before anything is written
    assert list((tmp_path / "tmp").iterdir()) == []


# ------------------------------------------------------------------------------------ total cap


def test_all_files_of_one_upload_together_stay_under_the_upload_limit(tmp_path, monkeypatch):
    band_files = []
    for band in ("B02", "B03"):
        band_files.append(write_tif(tmp_path / f"S2A_MSIL2A_20170613T101031_87_48_{band}.tif",
                                    s2_stack(1, seed=len(band_files))[0]))
    size = band_files[0].stat().st_size
    monkeypatch.setattr(safety, "MAX_UPLOAD_BYTES", int(size * 1.5))  # each file fits, both together do not
    for files in ([named(p) for p in band_files], band_files):
        with pytest.raises(InputError, match=r"the 2 files of this upload hold .* MiB together, more than the "
                                             r".* an upload may hold in total .*; upload one patch"):
            read_upload(files)
    with open_upload([named(band_files[0])]) as one:  # one file under the limit is fine
        assert one.key


# --------------------------------------------------------------------------- declared decoded size


def scene(path: Path, side: int, count: int = 12, overviews=()) -> Path:
    """A deflate-compressed, tiled GeoTIFF declaring side x side x count uint16 pixels, holding data in
    the tiles around its centre 120 x 120 window only (the others stay empty: sparse)."""
    tile = 256
    profile = {"driver": "GTiff", "width": side, "height": side, "count": count, "dtype": "uint16", "crs": UTM33,
               "transform": from_origin(500_000, 5_500_000, 10, 10), "tiled": True, "blockxsize": tile,
               "blockysize": tile, "compress": "deflate", "sparse_ok": True}
    start = ((side - 120) // 2) // tile * tile
    stop = min(side, -(-((side - 120) // 2 + 120) // tile) * tile)
    data = s2_stack(count, size=stop - start)
    with rasterio.open(path, "w", **profile) as out:
        out.write(data, window=Window(start, start, stop - start, stop - start))
        if overviews:
            out.build_overviews(list(overviews))
    return path


def test_a_scene_declaring_a_whole_tile_is_read_only_at_the_window(tmp_path):
    path = scene(tmp_path / "tile.tif", 10_980)
    assert path.stat().st_size < 10 * 2**20
    record = read_upload(path)  # the centre window
    note = ("tile.tif declares 10980x10980x12 uint16 pixels (2.7 GiB decoded), more than the 256 MiB read at "
            "once: only the chosen window is read, and no overview of the whole file is drawn")
    assert note in record.notes and record.meta["window"] == (5430, 5430)
    layout = upload_layout(path)
    assert (layout.width, layout.height) == (10_980, 10_980)
    assert layout.overview is None and layout.overview_note == note


def test_the_overview_uses_a_small_internal_overview_level_when_the_file_has_one(tmp_path, monkeypatch):
    monkeypatch.setattr(safety, "MAX_DECODED_BYTES", 16 * 2**20)  # a 2400 x 2400 x 12 file (132 MiB) is over it
    plain, levels = scene(tmp_path / "plain.tif", 2400), scene(tmp_path / "levels.tif", 2400, overviews=(2, 4))
    assert upload_layout(plain).overview is None
    assert "more than the 16 MiB read at once" in upload_layout(plain).overview_note
    layout = upload_layout(levels)  # drawn 6x smaller: GDAL reads level 4, 132 MiB / 16
    assert layout.overview is not None and layout.overview_note is None


def test_a_scene_whose_blocks_are_too_large_to_read_a_window_is_refused(tmp_path):
    path = tmp_path / "strips.tif"
    with rasterio.open(path, "w", driver="GTiff", width=12_000, height=12_000, count=12, dtype="uint16",
                       crs=UTM33, transform=from_origin(500_000, 5_500_000, 10, 10), tiled=True,
                       blockxsize=4096, blockysize=4096, compress="deflate", sparse_ok=True):
        pass  # pixel-interleaved 4096 x 4096 x 12 uint16 tiles: 384 MiB each
    with pytest.raises(InputError, match=r"declares 12000x12000x12 uint16 pixels \(3\.2 GiB decoded\), more than "
                                         r"the 256 MiB read at once, and stores them in blocks of 384 MiB each.*"
                                         r"refused: save it tiled"):
        read_upload(path)
    assert os.path.getsize(path) < 2**20
