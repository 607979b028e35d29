"""Folium maps that work offline: Leaflet, jQuery, markercluster and a country basemap served by this server."""
from __future__ import annotations

import folium
from branca.element import MacroElement
from folium.plugins import MarkerCluster
from jinja2 import Template

STATIC = "/app/static"  # Streamlit static serving of ROOT/static (server.enableStaticServing)


class OfflineBasemap(MacroElement):
    """Country outlines served by this server, drawn in a pane under every overlay: geographic context
    with no internet (the base tile layers need it)."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        (function (map) {
            map.getContainer().style.background = "#d9e6f2";
            var pane = map.createPane("basemap");
            pane.style.zIndex = 150;
            pane.style.pointerEvents = "none";
            // parsed once per frame: the map is rebuilt on every rerun, the outlines are not
            window.csmaeBasemap = window.csmaeBasemap ||
                fetch("{{ this.url }}").then(function (r) { return r.json(); });
            window.csmaeBasemap.then(function (data) {
                L.geoJSON(data, {pane: "basemap", interactive: false,
                    style: {color: "#9aa3ad", weight: 0.7, fillColor: "#f3f1ea", fillOpacity: 1}}).addTo(map);
            });
        })({{ this._parent.get_name() }});
        {% endmacro %}
    """)

    def __init__(self):
        super().__init__()
        self._name = "OfflineBasemap"
        self.url = f"{STATIC}/basemap/countries-50m.geojson"


def offline_map(location=(50.0, 15.0), zoom_start: int = 4, base_layers: bool = True, **kwargs) -> folium.Map:
    """A folium map whose Leaflet JS/CSS come from this server, with no base tiles by default (the patch
    overlays give the picture); OpenStreetMap / satellite layers can be switched on when online."""
    fmap = folium.Map(location=location, zoom_start=zoom_start, tiles=None, control_scale=True, **kwargs)
    # folium's popups call jQuery; bootstrap and awesome-markers are not used here
    fmap.default_js = [("leaflet", f"{STATIC}/leaflet/leaflet.js"), ("jquery", f"{STATIC}/jquery/jquery.min.js")]
    fmap.default_css = [("leaflet_css", f"{STATIC}/leaflet/leaflet.css")]
    fmap.get_root().header.add_child(folium.Element(
        f"<script>if (window.L) {{ L.Icon.Default.imagePath = '{STATIC}/leaflet/images/'; }}</script>"))
    OfflineBasemap().add_to(fmap)
    if base_layers:
        folium.TileLayer("OpenStreetMap", name="OpenStreetMap (online)", show=False).add_to(fmap)
        folium.TileLayer("https://server.arcgisonline.com/ArcGIS/rest/services/World_Imagery/MapServer/tile/{z}/{y}/{x}",
                         attr="Esri World Imagery", name="Satellite (online)", show=False).add_to(fmap)
    return fmap


def local_marker_cluster(**kwargs) -> MarkerCluster:
    cluster = MarkerCluster(**kwargs)
    cluster.default_js = [("markerclusterjs", f"{STATIC}/leaflet.markercluster/leaflet.markercluster.js")]
    cluster.default_css = [("markerclustercss", f"{STATIC}/leaflet.markercluster/MarkerCluster.css"),
                           ("markerclusterdefaultcss", f"{STATIC}/leaflet.markercluster/MarkerCluster.Default.css")]
    return cluster
