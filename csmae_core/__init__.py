"""CSMAE core: BigEarthNet readers, preprocessing, geolocation and previews (no UI code)."""
