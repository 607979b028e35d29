"""The archive explorer's map: the patches or grid cells in view (csmae_core.retrieval.browse decides
which) drawn as one feature group on a map that stays the same for a table, so that the browser keeps
the map, and its view, across reruns. Coloured by similarity to a query (Colouring) when asked: each patch
by its score, each cell by the best or the mean score of its patches, with a legend that says which."""
from __future__ import annotations

from dataclasses import dataclass

import folium
import numpy as np
import streamlit as st

from csmae_core.retrieval.aggregate import fit_view
from csmae_core.retrieval.browse import TableFacts, patch_features
from csmae_core.retrieval.queries import PatchFacts
from pages.ui.explorer_view import KEY_MAP, MAP_HEIGHT, MAP_WIDTH_GUESS, requested_center_zoom
from pages.ui.maps import offline_map, show_map
from pages.ui.safe_text import shown

BBOX_ZOOM = 10  # from this zoom on a patch is drawn as its footprint (>= ~10 px wide)
POINT_COLOUR, SELECTED_COLOUR, CELL_COLOUR = "#1f77b4", "#d62728", "#ff7f0e"
Selected = tuple[int, PatchFacts]  # the picked pair: its table row and csmae_core.retrieval.queries.archive_facts
# viridis (perceptually uniform, readable by colour-blind users): dark = like the archive's average patch
RAMP = ("#440154", "#482878", "#3e4989", "#31688e", "#26828e", "#1f9e89", "#35b779", "#6ece58", "#b5de2b", "#fde725")
QUERY_COLOUR = "#ff00ff"
SCALE_WORDS = {"standardised": "standard deviations above this query's mean score",
               "cosine": "cosine similarity to the query"}
STATISTIC_WORDS = {"best": "the best patch of each cell", "mean": "the mean of each cell's patches"}


@dataclass(frozen=True)
class Colouring:
    """The map coloured by similarity: `values` (N,) per table row on `scale`, cells by `statistic`
    ("best" or "mean"), colours from `low` to `high`; `query_lonlat` marks the query (None: unknown)."""

    values: np.ndarray
    scale: str
    statistic: str
    low: float
    high: float
    sensor_name: str
    patches: int
    query_lonlat: tuple[float, float] | None = None

    def text(self, value: float) -> str:
        if not np.isfinite(value):
            return "n/a"
        return f"{value:+.2f} σ" if self.scale == "standardised" else f"{value:.3f}"

    def colours(self, values: np.ndarray) -> list[str]:
        """Hex colours of `values` on the ramp (clipped to [low, high]; NaN: grey)."""
        values = np.asarray(values, dtype=np.float64)
        position = np.clip((values - self.low) / (self.high - self.low), 0.0, 1.0) * (len(RAMP) - 1)
        return [RAMP[int(round(p))] if np.isfinite(p) else "#999999" for p in position]


def legend_html(colouring: Colouring) -> str:
    """A colour bar with its two ends and what the numbers are (fixed words and numbers only: no user text)."""
    gradient = ", ".join(RAMP)
    ends = (f"{colouring.text(colouring.low)} (as alike as the average {colouring.sensor_name} patch)",
            f"{colouring.text(colouring.high)} (the best match; the query's own pair is left out)")
    return (f'<div class="similarity-legend" style="font:12px sans-serif;margin:2px 0 6px 0">'
            f'<div style="height:12px;border-radius:3px;background:linear-gradient(to right, {gradient})"></div>'
            f'<div style="display:flex;justify-content:space-between">'
            f'<span>{ends[0]}</span><span>{ends[1]}</span></div>'
            f'<div>Colour: {SCALE_WORDS[colouring.scale]}, over all {colouring.patches:,} {colouring.sensor_name} '
            f'patches; cells show {STATISTIC_WORDS[colouring.statistic]}.</div></div>')


def patch_layer(facts: TableFacts, rows: np.ndarray, zoom: int, selected: Selected | None,
                colouring: Colouring | None = None) -> folium.FeatureGroup:
    """The patches `rows` as one GeoJson layer (thousands of folium objects would slow every rerun),
    each in its similarity colour when `colouring` is given, and the selected pair (table row, facts) outlined."""
    group = folium.FeatureGroup(name="patches")
    if len(rows):
        collection = shown_properties(patch_features(facts.table, rows, zoom >= BBOX_ZOOM))
        fields = ["pair", "labels"]
        colours = [POINT_COLOUR] * len(rows)
        if colouring is not None:
            colours = colouring.colours(colouring.values[rows])
            for feature, value in zip(collection["features"], colouring.values[rows]):
                feature["properties"]["similarity"] = colouring.text(float(value))
            fields.append("similarity")
        for feature, colour in zip(collection["features"], colours):
            feature["properties"]["colour"] = colour
        folium.GeoJson(collection, name="patches", marker=folium.CircleMarker(radius=5, fill=True),
                       style_function=patch_style, highlight_function=lambda _f: {"weight": 3},
                       tooltip=folium.GeoJsonTooltip(fields=fields, aliases=fields),
                       ).add_to(group)
    centre = facts.centre(selected[0]) if selected is not None else None
    if centre is not None:
        pair = selected[1]
        if pair.bbox is not None:
            west, south, east, north = pair.bbox
            folium.Rectangle([[south, west], [north, east]], color=SELECTED_COLOUR, weight=3, fill=False,
                             tooltip=f"selected: {shown(pair.name, context='html')}").add_to(group)
        folium.CircleMarker(list(centre), radius=7, color=SELECTED_COLOUR, weight=2, fill=False).add_to(group)
    return group


def patch_style(feature: dict) -> dict:
    colour = feature["properties"]["colour"]
    return {"color": colour, "weight": 1.5, "fillColor": colour, "fillOpacity": 0.6, "radius": 5}


def shown_properties(collection: dict) -> dict:
    """The features' text properties escaped for HTML: folium's GeoJsonTooltip puts them into innerHTML."""
    for feature in collection["features"]:
        properties = feature["properties"]
        for name, value in properties.items():
            if isinstance(value, str):
                properties[name] = shown(value, 400, context="html")
    return collection


def short_count(count: int) -> str:
    return f"{count / 1e6:.1f}M" if count >= 1e6 else f"{count / 1e3:.1f}k" if count >= 1e4 else f"{count:,}"


def cell_layer(cells, colouring: Colouring | None = None) -> folium.FeatureGroup:
    """One circle per occupied grid cell (a `grid_cells` frame), its area growing with the number of
    pairs, labelled with it; in the similarity colour of the cell's best or mean score when `colouring`."""
    group = folium.FeatureGroup(name="cells")
    largest = max(int(cells["count"].max()), 1) if len(cells) else 1
    colours, notes = [CELL_COLOUR] * len(cells), [""] * len(cells)
    if colouring is not None and len(cells):
        colours = colouring.colours(cells[colouring.statistic].to_numpy())
        notes = [f" · best {colouring.text(best)}, mean {colouring.text(mean)}"
                 for best, mean in zip(cells["best"], cells["mean"])]
    for lon, lat, count, colour, note in zip(cells["lon"], cells["lat"], cells["count"], colours, notes):
        radius = 8 + 16 * float(np.sqrt(count / largest))
        tooltip = f"{count:,} patches{note} · click to zoom in"
        opacity = 0.8 if colouring is not None else 0.55
        folium.CircleMarker([lat, lon], radius=radius, color=colour, weight=1, fill=True, fill_opacity=opacity,
                            tooltip=tooltip).add_to(group)
        folium.Marker([lat, lon], tooltip=tooltip, icon=folium.DivIcon(
            icon_size=(48, 16), icon_anchor=(24, 8), class_name="explorer-count",
            html=f'<div style="text-align:center;font:bold 11px sans-serif;color:#222">{short_count(count)}</div>',
        )).add_to(group)
    return group


def base_map(facts: TableFacts) -> folium.Map:
    """The map itself never changes for a table; what is drawn on it comes as st_folium's
    feature_group_to_add."""
    lat, lon, zoom = fit_view(facts.home, MAP_WIDTH_GUESS, MAP_HEIGHT)
    fmap = offline_map(location=(lat, lon), zoom_start=zoom, prefer_canvas=True)
    folium.LayerControl(collapsed=True).add_to(fmap)
    return fmap


def query_marker(group: folium.FeatureGroup, lonlat: tuple[float, float]) -> None:
    folium.CircleMarker([lonlat[1], lonlat[0]], radius=9, color=QUERY_COLOUR, weight=3, fill=False,
                        tooltip="the query").add_to(group)


def draw_map(facts: TableFacts, shown: dict, zoom: int, selected: Selected | None,
             colouring: Colouring | None = None) -> None:
    """The map with what `shown` (browse.TableFacts.viewport) holds, captioned, at the requested view;
    coloured by similarity, with its legend, when `colouring` is given."""
    legend = st.container()  # always drawn: the map keeps its place (and its frame) when colouring turns on
    if colouring is not None:
        legend.markdown(legend_html(colouring), unsafe_allow_html=True)
    if shown["mode"] == "points":
        layer = patch_layer(facts, shown["rows"], zoom, selected, colouring)
        st.caption(f"{shown['n_in_view']:,} pairs in view · click one to see it")
    else:
        layer = cell_layer(shown["cells"], colouring)
        st.caption(f"{shown['n_in_view']:,} pairs in view, counted in cells of {shown['cell_size']:.2g}° · "
                   "zoom in (or click a cell) to see single patches")
    if colouring is not None and colouring.query_lonlat is not None:
        query_marker(layer, colouring.query_lonlat)
    center, zoom_request = requested_center_zoom()
    show_map(base_map(facts), key=KEY_MAP, height=MAP_HEIGHT, use_container_width=True,
             returned_objects=["bounds", "zoom", "last_object_clicked"], center=center, zoom=zoom_request,
             feature_group_to_add=layer)
