"""UI plumbing shared by the pages (no business logic: that is csmae_core's).

  resources.py  the catalogue entry chosen in the sidebar and its cached heavy objects (model, bundle, engine)
  state.py      session-state keys and the current query
  maps.py       offline Leaflet maps (assets served from static/)
  widgets.py    label chips (the one chip style) and images as PNG / data URLs
"""
