"""The map elements that keep searches fast (pages/ui/maps.py): footprints and points drawn from JSON by one
script, and clicks reported at once. Rendered the way streamlit-folium sends them to the browser."""
from __future__ import annotations

import json
import re

import folium
from streamlit_folium import _get_feature_group_string, generate_leaflet_string

from pages.ui.maps import Footprints, ImmediateClicks, Points, offline_map, script_json
from pages.ui.results import footprint
from tests.payloads import PAYLOADS


def feature_group_script(*elements) -> str:
    group = folium.FeatureGroup(name="results")
    for element in elements:
        element.add_to(group)
    return _get_feature_group_string(group, offline_map())


def payload_of(script: str) -> list:
    """The JSON a Footprints / Points script draws."""
    return json.loads(re.search(r"\}\)\(feature_group_feature_group_0, (\[.*\])\);", script, re.S).group(1))


def test_footprints_draw_every_overlay_outline_popup_and_badge_into_the_group():
    entries = [footprint((10.0, 50.0, 10.1, 50.1), "data:image/jpeg;base64,AAAA", "#000", "query", dash="6"),
               footprint((11.0, 51.0, 11.1, 51.1), None, "#d62728", "#1 S1 0.912", "<b>#1</b>", "<div>1</div>")]
    script = feature_group_script(Footprints(entries))
    assert payload_of(script) == entries
    assert entries[0]["bounds"] == [[50.0, 10.0], [50.1, 10.1]]
    assert "L.imageOverlay(f.image, f.bounds" in script and "bindPopup(picture" in script
    assert "map_div.addLayer(feature_group_feature_group_0)" in script
    assert script == feature_group_script(Footprints(entries)), "the same results give the same script"


def test_the_json_in_a_script_holds_no_markup():
    text = script_json(["</script><script>alert(1)</script>", "a & b", PAYLOADS["template-breakout"]])
    assert "<" not in text and ">" not in text and "&" not in text
    assert json.loads(text)[0] == "</script><script>alert(1)</script>"


def test_points_are_circle_markers_with_their_tooltips():
    fmap = offline_map()
    Points([50.0, 51.5], [10.0, 11.25], ["pair a", "pair &amp; b"]).add_to(fmap)
    script = generate_leaflet_string(fmap)
    assert "L.circleMarker([p[0], p[1]], {radius: 5" in script
    assert '[[50.0,10.0,"pair a"],[51.5,11.25,"pair \\u0026amp; b"]]' in script


def test_every_offline_map_reports_clicks_at_once():
    script = generate_leaflet_string(offline_map())
    assert 'map.on("click"' in script and "streamlit.setComponentValue(report)" in script
    assert any(isinstance(child, ImmediateClicks) for child in offline_map()._children.values())


def test_a_payload_reaches_the_figure_verbatim_and_is_never_read_as_a_template():
    """branca would compile a macro's rendered text as a Jinja template (tens of ms for a payload of image data
    URLs, and "{{ }}" in a name evaluated); pages.ui.maps.PayloadElement keeps it as it is."""
    names = ["{{ 7 * 7 }}", "{% for x in [1] %}loop{% endfor %}", "{# hidden #}"]
    fmap = offline_map()
    group = folium.FeatureGroup(name="results").add_to(fmap)
    Points([50.0, 51.0, 52.0], [10.0, 11.0, 12.0], names).add_to(group)
    html = fmap.get_root().render()
    for name in names:
        assert json.dumps(name) in html
    assert '"49"' not in html and '"loop"' not in html


def component_arguments(build, render: bool, monkeypatch) -> dict:
    """What st_folium sends the browser for the map `build()` makes (ids of folium objects made equal)."""
    import streamlit_folium

    sent = {}
    monkeypatch.setattr(streamlit_folium, "_component_func", lambda **kwargs: sent.update(kwargs))
    fmap, group = build()
    streamlit_folium.st_folium(fmap, feature_group_to_add=group, render=render, key="map")
    return {name: re.sub(r"_[0-9a-f]{32}", "_ID", value) if isinstance(value, str) else value
            for name, value in sent.items() if name not in ("on_change", "key")}  # key: a hash of the ids


def every_kind_of_map():
    """A base map with online layers, cluster assets and a layer control (the results map), points and the
    drawing tools (the area map), and a feature group of footprints (a search's results)."""
    from pages.ui.area_input import local_draw
    from pages.ui.results import base_map

    fmap = base_map()
    Points([50.0, 51.5], [10.0, 11.25], ["pair a", "pair b"]).add_to(fmap)
    local_draw().add_to(fmap)
    group = folium.FeatureGroup(name="results")
    Footprints([footprint((10.0, 50.0, 10.1, 50.1), "data:image/jpeg;base64,AAAA", "#000", "query")]).add_to(group)
    return fmap, group


def test_maps_are_sent_the_same_without_st_folium_rendering_the_figure_first(monkeypatch):
    """pages.ui.maps.show_map skips st_folium's first render (of the whole figure): what it sends the browser
    must not change, or the map's frame would be rebuilt (its identity is a hash of the script)."""
    with_figure = component_arguments(every_kind_of_map, True, monkeypatch)
    without = component_arguments(every_kind_of_map, False, monkeypatch)
    assert without == with_figure
    assert "leaflet.draw.js" in " ".join(without["js_links"]) and "L.imageOverlay" in without["feature_group"]
    assert "Draw" in without["script"] and "circleMarker" in without["script"]
