"""Folium maps that work offline (Leaflet, jQuery, markercluster and a country basemap served by this
server) and answer fast: a click is reported at once, and many footprints are one element drawn in the
browser from JSON (folium renders a template per object: ~5 ms each on the server)."""
from __future__ import annotations

import json

import folium
import xyzservices
from branca.element import Element, Figure, MacroElement
from folium.elements import JSCSSMixin
from folium.plugins import MarkerCluster
from jinja2 import Template
from streamlit_folium import st_folium

STATIC = "/app/static"  # Streamlit static serving of ROOT/static (server.enableStaticServing)
# The online base layers as tile providers: folium looks a layer given by name or URL up among all of
# xyzservices' providers (~2.5 ms a layer, on every rerun); given the provider it does not.
OPENSTREETMAP = xyzservices.providers.OpenStreetMap.Mapnik
SATELLITE = xyzservices.TileProvider(
    name="Esri World Imagery", attribution="Esri World Imagery", html_attribution="Esri World Imagery",
    url="https://server.arcgisonline.com/ArcGIS/rest/services/World_Imagery/MapServer/tile/{z}/{y}/{x}")


class Verbatim(Element):
    """Text a figure holds as it is. branca keeps a macro's rendered text as an Element made from it, which
    compiles that text as a Jinja template: for a payload of image data URLs or thousands of points that is
    tens of ms per rerun spent on text that is final (and would treat "{{" in a name as template code)."""

    def __init__(self, text: str):
        super().__init__()
        self.text = text

    def render(self, **kwargs) -> str:
        return self.text


class PayloadElement(MacroElement):
    """A MacroElement whose rendered header, html and script go into the figure verbatim (see Verbatim)."""

    def render(self, **kwargs) -> None:
        figure = self.get_root()
        if not isinstance(figure, Figure):
            raise TypeError("You cannot render this Element if it is not in a Figure.")
        macros = self._template.module.__dict__
        for part in ("header", "html", "script"):
            if macros.get(part) is not None:
                getattr(figure, part).add_child(Verbatim(macros[part](self, kwargs)), name=self.get_name())
        for child in self._children.values():
            child.render(**kwargs)


class OfflineBasemap(PayloadElement):
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


class ImmediateClicks(PayloadElement):
    """streamlit-folium reports a click 250 ms after the last map event (a debounce meant for panning and
    zooming): a click is reported at once here, with exactly what the component would report, so that its
    own report, 250 ms later, finds nothing new to send. Mirrors updateComponentValue of streamlit-folium
    0.27 (frontend/src/index.tsx); tests/e2e/test_browser.py fails when a click reruns the page twice."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        (function (map) {
            map.on("click", function () {
                setTimeout(function () {  // after the component's own click handlers have run
                    var state = window.__GLOBAL_DATA__, streamlit = window.Streamlit;
                    if (!state || !streamlit || window.map !== map || state.wrap_longitude) return;
                    var all = {last_clicked: state.lat_lng_clicked, last_object_clicked: state.last_object_clicked,
                        last_object_clicked_count: state.last_object_clicked_count,
                        last_object_clicked_tooltip: state.last_object_clicked_tooltip,
                        last_object_clicked_popup: state.last_object_clicked_popup,
                        all_drawings: state.all_drawings, last_active_drawing: state.last_active_drawing,
                        last_geocoder_result: state.last_geocoder_result, bounds: map.getBounds(),
                        zoom: map.getZoom(), last_circle_radius: state.last_circle_radius,
                        last_circle_polygon: state.last_circle_polygon, center: map.getCenter(),
                        selected_layers: Object.values(state.selected_layers), selected_tags: state.selected_tags};
                    var report = {};
                    Object.keys(all).forEach(function (key) {
                        if (!state.returned_objects || state.returned_objects.includes(key)) report[key] = all[key];
                    });
                    if (JSON.stringify(state.previous_data) !== JSON.stringify(report)) {
                        state.previous_data = report;
                        streamlit.setComponentValue(report);
                    }
                }, 0);
            });
        })({{ this._parent.get_name() }});
        {% endmacro %}
    """)

    def __init__(self):
        super().__init__()
        self._name = "ImmediateClicks"


class Footprints(PayloadElement):
    """Footprints drawn into their parent (a FeatureGroup) by one script: each an optional image overlay,
    an outline with a tooltip and an optional popup (the image above its text), and an optional badge at
    its north-west corner. `footprints`: dicts of bounds [[south, west], [north, east]], image (URL or
    None), colour, dash (None: solid), tooltip, popup and badge (HTML the caller made safe, or None)."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        (function (group, footprints) {
            footprints.forEach(function (f) {
                if (f.image) L.imageOverlay(f.image, f.bounds, {opacity: 0.95}).addTo(group);
                var outline = L.rectangle(f.bounds, {color: f.colour, weight: 3, dashArray: f.dash, fill: false})
                    .addTo(group).bindTooltip(f.tooltip, {sticky: true});
                if (f.popup !== null) {
                    var picture = document.createElement("div");
                    if (f.image) {
                        var img = document.createElement("img");
                        img.src = f.image; img.width = 120;
                        picture.appendChild(img);
                    }
                    picture.insertAdjacentHTML("beforeend", f.popup);
                    outline.bindPopup(picture, {maxWidth: 220});
                }
                if (f.badge !== null) L.marker([f.bounds[1][0], f.bounds[0][1]],
                    {icon: L.divIcon({html: f.badge, className: "empty"})}).addTo(group);
            });
        })({{ this._parent.get_name() }}, {{ this.payload }});
        {% endmacro %}
    """)

    def __init__(self, footprints: list[dict]):
        super().__init__()
        self._name = "Footprints"
        self.payload = script_json(footprints)


class Points(PayloadElement):
    """Circle markers with tooltips, drawn into their parent (a map or FeatureGroup) by one script.
    `tooltips`: HTML the caller made safe (pages.ui.safe_text.shown(..., context="html"))."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        (function (parent, points) {
            points.forEach(function (p) {
                L.circleMarker([p[0], p[1]], {radius: {{ this.radius }}, color: "{{ this.colour }}", fill: true,
                                              fillOpacity: 0.8}).bindTooltip(p[2], {sticky: true}).addTo(parent);
            });
        })({{ this._parent.get_name() }}, {{ this.payload }});
        {% endmacro %}
    """)

    def __init__(self, lats, lons, tooltips, colour: str = "#1f77b4", radius: int = 5):
        super().__init__()
        self._name = "Points"
        self.colour, self.radius = colour, int(radius)
        self.payload = script_json([[float(a), float(o), t] for a, o, t in zip(lats, lons, tooltips)])


class ClusterAssets(JSCSSMixin, PayloadElement):
    """Loads the local leaflet.markercluster into a map's frame and draws nothing: added to a map that never
    changes, so that feature groups sent to it later (ClusteredPoints) find L.markerClusterGroup there. The
    map gets a maximum zoom (a cluster layer refuses a map without one; no base tiles set it here)."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        {{ this._parent.get_name() }}.options.maxZoom = {{ this._parent.get_name() }}.options.maxZoom || 19;
        {% endmacro %}
    """)
    default_js = [("markerclusterjs", f"{STATIC}/leaflet.markercluster/leaflet.markercluster.js")]
    default_css = [("markerclustercss", f"{STATIC}/leaflet.markercluster/MarkerCluster.css"),
                   ("markerclusterdefaultcss", f"{STATIC}/leaflet.markercluster/MarkerCluster.Default.css")]

    def __init__(self):
        super().__init__()
        self._name = "ClusterAssets"


class ClusteredPoints(PayloadElement):
    """Many results as one marker-cluster layer in their parent (a FeatureGroup), drawn by one script: nearby
    points merge into a numbered bubble that splits on zoom (hundreds of results stay readable and fast).
    `points`: [lat, lon, sensor index, rank, score, name, label set index]; `sensors`: [(name, colour)];
    `label_sets`: texts. Names and label texts are HTML the caller made safe; tooltips and popups are put
    together here, a popup only when opened. Without the cluster library (not loaded in this frame) the
    points are drawn unclustered rather than not at all."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        (function (group, data) {
            var layer = L.markerClusterGroup ? L.markerClusterGroup({maxClusterRadius: 45, chunkedLoading: true,
                showCoverageOnHover: false}) : group;
            var markers = data.points.map(function (p) {
                var sensor = data.sensors[p[2]];
                var marker = L.circleMarker([p[0], p[1]], {radius: 6, color: "#fff", weight: 1, fillColor: sensor[1],
                                                            fillOpacity: 0.9, className: "result-point"});
                marker.bindTooltip("#" + p[3] + " " + sensor[0] + " " + p[4].toFixed(3));
                marker.bindPopup(function () {
                    return "<b>#" + p[3] + "</b> " + sensor[0] + " · score " + p[4].toFixed(3) + "<br><small>" +
                        p[5] + "</small><br>" + data.label_sets[p[6]];
                }, {maxWidth: 220});
                return marker;
            });
            if (layer === group) { markers.forEach(function (m) { m.addTo(group); }); return; }
            layer.addLayers(markers);
            layer.addTo(group);
        })({{ this._parent.get_name() }}, {{ this.payload }});
        {% endmacro %}
    """)

    def __init__(self, points: list[list], sensors: list[tuple[str, str]], label_sets: list[str]):
        super().__init__()
        self._name = "ClusteredPoints"
        self.payload = script_json({"points": points, "sensors": sensors, "label_sets": label_sets})


def script_json(value) -> str:
    """JSON for inside a script: no "<", ">" or "&" that HTML could read as markup."""
    return (json.dumps(value, separators=(",", ":")).replace("<", "\\u003c").replace(">", "\\u003e")
            .replace("&", "\\u0026"))


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
    ImmediateClicks().add_to(fmap)
    if base_layers:
        folium.TileLayer(OPENSTREETMAP, name="OpenStreetMap (online)", show=False).add_to(fmap)
        folium.TileLayer(SATELLITE, name="Satellite (online)", show=False).add_to(fmap)
    return fmap


def show_map(fmap: folium.Map, **kwargs):
    """st_folium(fmap, **kwargs) without its first render: it renders the whole figure, then the map again,
    and sends what the second render wrote (the same text: tests/test_browser_maps.py); the first is work
    repeated on every rerun."""
    return st_folium(fmap, render=False, **kwargs)


def local_marker_cluster(**kwargs) -> MarkerCluster:
    cluster = MarkerCluster(**kwargs)
    cluster.default_js = [("markerclusterjs", f"{STATIC}/leaflet.markercluster/leaflet.markercluster.js")]
    cluster.default_css = [("markerclustercss", f"{STATIC}/leaflet.markercluster/MarkerCluster.css"),
                           ("markerclusterdefaultcss", f"{STATIC}/leaflet.markercluster/MarkerCluster.Default.css")]
    return cluster
