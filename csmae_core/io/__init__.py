"""One reader per BigEarthNet format; all return `PatchRecord`s (archives yield `PatchPair`s)."""
