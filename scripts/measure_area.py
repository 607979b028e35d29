"""Latency of an area-of-interest filter over a whole reBEN table: which of the 549,488 patch footprints touch
a polygon (or lie outside it), for a drawn rectangle and for real country outlines (static/basemap).

    python scripts/measure_area.py --metadata PATH/metadata.parquet [--repeats 20] [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COUNTRIES = ROOT / "static" / "basemap" / "countries-50m.geojson"


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--metadata", type=Path, required=True, help="reBEN metadata.parquet")
    p.add_argument("--snow-cloud", type=Path, help="reBEN metadata_for_patches_with_snow_cloud_or_shadow.parquet")
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--json", type=Path)
    return p.parse_args(argv)


def areas() -> dict[str, dict]:
    outlines = {f["properties"]["name"]: f["geometry"] for f in json.loads(COUNTRIES.read_text())["features"]}
    corners = [[9.0, 46.0], [17.0, 46.0], [17.0, 49.0], [9.0, 49.0], [9.0, 46.0]]
    rectangle = {"type": "Polygon", "coordinates": [corners]}
    return {"rectangle 8 x 3 degrees": rectangle, "Austria outline": outlines["Austria"],
            "Finland outline": outlines["Finland"], "Portugal outline": outlines["Portugal"]}


def main(argv=None) -> int:
    import shapely

    from csmae_core.io.folders import read_reben_metadata
    from csmae_core.retrieval.area import area_selection, read_area
    from csmae_core.retrieval.bundle import bundle_table

    args = parse_args(argv)
    table = bundle_table(read_reben_metadata(args.metadata, args.snow_cloud))
    bboxes = table[["west", "south", "east", "north"]].to_numpy(float)
    print(f"{len(table):,} patches")
    results = {}
    for name, geometry in areas().items():
        for inside in (True, False):
            area = read_area(geometry, inside=inside)
            times = []
            for _ in range(args.repeats):
                started = time.perf_counter()
                selection = area_selection(area, bboxes)
                times.append((time.perf_counter() - started) * 1000)
            times.sort()
            key = f"{name}, {'inside' if inside else 'outside'}"
            results[key] = {"p50_ms": statistics.median(times), "max_ms": times[-1], "rows": int(selection.mask.sum()),
                            "vertices": int(shapely.get_num_coordinates(area.polygon))}
            row = results[key]
            print(f"{key:38} ({row['vertices']:,} vertices) {row['rows']:>8,} patches   p50 {row['p50_ms']:6.1f} ms   "
                  f"max {row['max_ms']:6.1f} ms", flush=True)
    if args.json:
        args.json.write_text(json.dumps({"patches": len(table), "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
