"""One reader per BigEarthNet format; every reader returns `PatchRecord`s (archives yield `PatchPair`s).

  folders.py      BigEarthNet v1 / v2 (reBEN) GeoTIFF folders: read_patch_folder, BenV1Folders, BenV2Folders
  lmdb_rico.py    rico-hdl LMDB (safetensors values) + metadata.parquet: RicoLmdb
  lmdb_pickle.py  bigearthnet-encoder LMDB (pickles, read with csmae_core.safe_pickle): EncodedLmdb
  packed.py       the packed demo archive (safetensors + parquet): PackedArchive
  upload/         what a user uploads: multi-band GeoTIFF, band GeoTIFFs, .zip of a patch folder: read_upload
  detect.py       which reader a path needs: open_archive, read_any
Shared by the readers: archive.py (PairArchive), metadata.py (archive tables), lmdb.py (environments),
geotiff.py (one band file), names.py (BigEarthNet file and patch names).
"""
