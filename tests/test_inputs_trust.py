"""The trust yardsticks (csmae_core.retrieval.trust) on the real demo bundle and archive: an archive patch is
in distribution; an offset product read as it is, and a query that resembles nothing, are said loudly."""
from __future__ import annotations

import numpy as np
import pytest

from csmae_core.retrieval.bundle import Bundle
from csmae_core.retrieval.trust import archive_profile, assess


@pytest.fixture(scope="module")
def demo(demo_archive):
    bundle = Bundle("assets/bundles/demo")
    return bundle, demo_archive, archive_profile(bundle, demo_archive)


def test_profile_comes_from_the_archive_and_the_bundle(demo):
    bundle, archive, profile = demo
    assert profile.patches == len(bundle.table) == 60
    b04 = np.sort([np.median(archive[i].s2.bands["B04"]) for i in range(len(archive))])
    np.testing.assert_allclose(profile.band_medians["B04"], b04)
    scores = bundle.embeddings["s2"] @ bundle.embeddings["s2"].T
    np.fill_diagonal(scores, -np.inf)
    both = np.maximum(scores.max(1), (bundle.embeddings["s2"] @ bundle.embeddings["s1"].T
                                      - np.eye(60) * 1e9).max(1))
    np.testing.assert_allclose(profile.usual_top_scores("s2", ("s1", "s2")), np.sort(both), rtol=1e-5)


@pytest.mark.parametrize("sensor", ["s1", "s2"])
def test_every_archive_patch_is_in_distribution(demo, sensor):
    bundle, archive, profile = demo
    for row in range(len(archive)):
        vector = bundle.embeddings[sensor][row]
        scores = [float(s) for t in ("s1", "s2") for s in np.delete(bundle.embeddings[t] @ vector, row)]
        report = assess(profile, sensor, archive[row].record(sensor).bands, max(scores))
        assert report.warnings == [], (row, report.warnings)
        assert len(report.bands) == (2 if sensor == "s1" else 12)
        assert 0 <= report.score_share_below <= 100


@pytest.mark.parametrize("row", [3, 20, 45])
def test_an_undeclared_offset_product_is_said(demo, row):
    _, archive, profile = demo
    bands = {b: a.astype(np.int64) + 1000 for b, a in archive[row].s2.bands.items()}
    report = assess(profile, "s2", bands)
    assert any(w.startswith("every band's darkest pixels are at") and "brighter than in 100.0 % of the archive"
               in w and "an offset product" in w for w in report.warnings), report.warnings


def test_linear_s1_read_as_db_is_said(demo):
    _, archive, profile = demo
    bands = {b: 10 ** (a / 10) for b, a in archive[3].s1.bands.items()}
    report = assess(profile, "s1", bands)
    assert any(w.startswith("VV is above all of the archive") and "read as dB" in w for w in report.warnings)


def test_a_query_that_resembles_nothing_is_said(demo):
    _, _, profile = demo
    report = assess(profile, "s2", None, top_score=-0.2)
    assert report.bands == [] and report.score_share_below == 0
    assert any("nothing in the archive resembles this query" in w for w in report.warnings)


@pytest.mark.parametrize("row", [3, 20, 45])
def test_amplitude_read_as_power_is_said(demo, row):
    """Undeclared amplitude is read as power (10*log10 of amplitude = half the dB): out of the archive's range."""
    _, archive, profile = demo
    bands = {b: a / 2 for b, a in archive[row].s1.bands.items()}
    report = assess(profile, "s1", bands)
    assert any(w.startswith("VH is above all of the archive") for w in report.warnings), report.warnings
