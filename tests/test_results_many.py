"""Hundreds of results on the search page (AppTest, the real demo model and archive): k up to 1,000 capped by
the archive and saying so, the paged gallery, results grouped by sensor, the minimum score hiding results in
the gallery and on the map, and the detail view a card's "Inspect" toggle opens."""
import json
from html import unescape

from streamlit.testing.v1 import AppTest

from pages.ui.maps import ClusteredPoints, Footprints
from pages.ui.results import CLUSTER_FROM, OVERLAY_RANKS, results_layer
from pages.ui.results_gallery import PAGE_SIZE
from tests.conftest import ROOT, result_cards

DEMO_OTHERS = 118  # 60 pairs x 2 sensors, less the query's own pair


def app() -> AppTest:
    return AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)


def archive_search(k: int) -> AppTest:
    at = app().run()
    at.segmented_control(key="query_source").set_value("Archive table").run()
    at.selectbox(key="table_pick").set_value(3).run()
    at.slider(key="k").set_value(k).run()
    assert not at.exception
    return at


def card_ranks(at) -> list[int]:
    """The ranks of the cards shown (sorted: the element tree reads the gallery's columns one after another)."""
    return sorted(int(card.split('data-rank="')[1].split('"')[0]) for card in result_cards(at))


def page_line(at, section: str = "all") -> str:
    return next(m.value for m in at.markdown if f'data-section="{section}"' in m.value)


def test_k_1000_is_capped_by_the_archive_and_the_gallery_is_paged():
    at = archive_search(1000)
    assert [h.value for h in at.subheader if "most similar" in h.value] == [f"{DEMO_OTHERS} most similar patches"]
    assert any(f"k = 1,000 asked, {DEMO_OTHERS} available" in c.value for c in at.caption)
    assert card_ranks(at) == list(range(1, PAGE_SIZE + 1))  # only the first page is built
    assert "Page 1 of 5 · results 1–25 of 118" in page_line(at)
    at.button(key="gallery_page_all_next").click().run()
    assert card_ranks(at) == list(range(26, 51)) and "Page 2 of 5" in page_line(at)
    at.number_input(key="gallery_page_all").set_value(5).run()
    assert card_ranks(at) == list(range(101, 119)) and at.button(key="gallery_page_all_next").disabled
    at.button(key="gallery_page_all_previous").click().run()
    assert card_ranks(at) == list(range(76, 101))
    # grouped by sensor: one paged tab each, every rank once
    at.toggle(key="group_by_sensor").set_value(True).run()
    assert sorted(t.label for t in at.tabs) == ["Sentinel-1 (59)", "Sentinel-2 (59)"]
    assert "Page 1 of 3 · results 1–25 of 59" in page_line(at, "s1")
    assert "Page 1 of 3" in page_line(at, "s2") and len(card_ranks(at)) == 2 * PAGE_SIZE
    at.button(key="gallery_page_s2_next").click().run()
    assert "Page 2 of 3" in page_line(at, "s2") and "Page 1 of 3" in page_line(at, "s1")
    assert not at.exception


def test_the_minimum_score_hides_results_in_the_gallery_and_says_how_many():
    at = archive_search(1000)
    assert any("all 118 results shown" in c.value for c in at.caption)
    scores = sorted(float(card.split("score <b>")[1].split("</b>")[0]) for card in result_cards(at))
    threshold = round(scores[len(scores) // 2], 2)  # of the first page: keeps at least half of it
    at.slider(key="min_score").set_value(threshold).run()
    hidden_line = next(c.value for c in at.caption if "hidden" in c.value)
    hidden = int(hidden_line.split(" of ")[0].replace(",", ""))
    assert 0 < hidden < DEMO_OTHERS and f"of {DEMO_OTHERS} results hidden (score below {threshold:.2f})" in hidden_line
    shown_scores = [float(card.split("score <b>")[1].split("</b>")[0]) for card in result_cards(at)]
    assert shown_scores and min(shown_scores) >= threshold - 0.0005
    left = DEMO_OTHERS - hidden
    if left > PAGE_SIZE:
        assert f"of {left}" in page_line(at)
    # everything hidden: said, not an empty page
    at.slider(key="min_score").set_value(at.slider(key="min_score").max).run()
    assert not at.exception


def test_inspect_opens_the_detail_view_of_that_result():
    at = archive_search(30)
    at.button_group(key="feedback_all_2").set_value(["Inspect"]).run()
    assert not at.exception
    assert any("Inspecting #2" in m.value for m in at.markdown)
    assert at.button_group(key="feedback_all_2").value == ["Inspect"]  # the card shows which one is open
    second = at.session_state["response"].results[1]
    assert at.session_state["inspect_result"] == (second.sensor, second.row)
    # the match view of that result (pages/ui/match_view.py): its token maps, explained in one caption
    assert any("token of the encoder" in c.value for c in at.caption)
    at.button_group(key="feedback_all_3").set_value(["Inspect"]).run()  # another card: its result instead
    assert any("Inspecting #3" in m.value for m in at.markdown) and not any("Inspecting #2" in m.value
                                                                              for m in at.markdown)
    assert at.button_group(key="feedback_all_2").value == [] and at.button_group(key="feedback_all_3").value == ["Inspect"]
    at.button(key="inspect_close").click().run()
    assert not any("Inspecting #" in m.value for m in at.markdown) and not at.exception
    assert at.button_group(key="feedback_all_3").value == []
    assert not any("token of the encoder" in c.value for c in at.caption)


def test_the_detail_view_computes_its_maps_once_while_it_stays_open():
    at = archive_search(10)
    at.button_group(key="feedback_all_2").set_value(["Inspect"]).run()
    held = at.session_state["match_view_maps"]
    at.run()  # any other click reruns the page: the open view reuses its maps
    assert at.session_state["match_view_maps"][2] is held[2] and not at.exception
    assert any("Inspecting #2" in m.value for m in at.markdown)
    at.button_group(key="feedback_all_3").set_value(["Inspect"]).run()  # another result: its own maps
    third = at.session_state["response"].results[2]
    assert at.session_state["match_view_maps"][0][2:] == (third.sensor, third.row)
    assert at.session_state["match_view_maps"][2] is not held[2]


def payload(group, element) -> list:
    children = [c for c in group._children.values() if isinstance(c, element)]
    return json.loads(children[0].payload) if children else []


def test_many_results_are_clustered_on_the_map_beyond_the_best():
    """More than CLUSTER_FROM results: the best OVERLAY_RANKS as footprints (with images), the rest as
    clustered points; the map draws exactly the results it is given (the minimum score's)."""
    from csmae_core.retrieval.bundle import Bundle
    from csmae_core.retrieval.search import Query, SearchEngine

    engine = SearchEngine(Bundle(ROOT / "assets" / "bundles" / "demo"))
    response = engine.search(Query(engine.bundle.embeddings["s1"][3], "s1", pair_row=3), ["s1", "s2"], 1000)
    entry, no_image = "{}", lambda *args: None  # the layout is under test here, not the images
    results = response.results
    group, bounds, clustered = results_layer(entry, results, None, None, no_image)
    assert clustered == len(results) - OVERLAY_RANKS and len(bounds) == len(results)
    assert [f["tooltip"].split()[0] for f in payload(group, Footprints)] == [f"#{r}" for r in range(1, 11)]
    points = payload(group, ClusteredPoints)
    assert [p[3] for p in points["points"]] == [r.rank for r in results[OVERLAY_RANKS:]]
    sensors, label_sets = points["sensors"], points["label_sets"]
    for point, result in zip(points["points"], results[OVERLAY_RANKS:]):
        assert sensors[point[2]][0] == {"s1": "Sentinel-1", "s2": "Sentinel-2"}[result.sensor]
        assert (point[0], point[1], point[4]) == (round(result.lat, 5), round(result.lon, 5), round(result.score, 3))
        # as safe HTML that reads as the text (pages.ui.safe_text: "_" and the like become entities)
        assert unescape(label_sets[point[6]]) == ", ".join(result.labels) and unescape(point[5]) == result.pair_id
    few = results[:CLUSTER_FROM]
    group, _, clustered = results_layer(entry, few, None, None, no_image)
    assert clustered == 0 and len(payload(group, Footprints)) == CLUSTER_FROM and not payload(group, ClusteredPoints)


def test_a_shared_link_with_k_1000_searches_what_the_archive_holds():
    at = app()
    at.query_params.update({"pair": "S2A_MSIL2A_20170613T101031_87_48", "sensor": "s1", "k": "1000",
                            "targets": "s1,s2"})
    at.run()
    assert not at.exception and not at.warning
    assert [h.value for h in at.subheader if "most similar" in h.value] == [f"{DEMO_OTHERS} most similar patches"]
    assert at.slider(key="k").value == 1000 and at.query_params["k"] == "1000"
    assert any(f"k = 1,000 asked, {DEMO_OTHERS} available" in c.value for c in at.caption)


def test_the_render_benchmark_expects_what_the_page_draws():
    """scripts/bench_results_render.py cannot import pages/ (scripts use csmae_core): its copies of the page
    size and the map's thresholds must equal the page's, or it would wait for the wrong rendering."""
    import ast

    from pages.ui.results import CLUSTER_FROM, OVERLAY_RANKS

    tree = ast.parse((ROOT / "scripts" / "bench_results_render.py").read_text())
    [line] = [n for n in tree.body if isinstance(n, ast.Assign) and isinstance(n.targets[0], ast.Tuple)
              and [t.id for t in n.targets[0].elts] == ["PAGE_SIZE", "CLUSTER_FROM", "OVERLAY_RANKS"]]
    assert ast.literal_eval(line.value) == (PAGE_SIZE, CLUSTER_FROM, OVERLAY_RANKS)


def test_the_score_histogram_counts_every_result_once_by_sensor():
    from csmae_core.retrieval.bundle import Bundle
    from csmae_core.retrieval.search import Query, SearchEngine
    from pages.ui.results_scores import score_histogram

    engine = SearchEngine(Bundle(ROOT / "assets" / "bundles" / "demo"))
    results = engine.search(Query(engine.bundle.embeddings["s2"][9], "s2", pair_row=9), ["s1", "s2"], 1000).results
    bars, rule = score_histogram(results, 0.25)["layer"]
    for name, sensor in (("Sentinel-1", "s1"), ("Sentinel-2", "s2")):
        rows = [row for row in bars["data"]["values"] if row["sensor"] == name]
        assert sum(row["results"] for row in rows) == sum(r.sensor == sensor for r in results) == 59
        assert all(row["from"] < row["to"] for row in rows)
    edges = [row["from"] for row in bars["data"]["values"]] + [row["to"] for row in bars["data"]["values"]]
    assert min(edges) == min(r.score for r in results) and max(edges) == max(r.score for r in results)
    assert rule["data"]["values"] == [{"minimum": 0.25}]
