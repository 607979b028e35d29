"""UI plumbing shared by the pages (no business logic: that is csmae_core's).

  resources.py         the catalogue entry chosen in the sidebar and its cached heavy objects (model, bundle, engine)
  state.py             session-state keys and the current query
  maps.py              offline Leaflet maps (assets served from static/)
  widgets.py           label chips (the one chip style) and images as PNG / data URLs
  safe_text.py         the one way to show text the app did not write (escaped, unlinked, cut)
  address.py           the search page's address parsed into a search and its problems (pure Python)
  history.py           the address as the search page's state: followed when it changes, written per search
  sessions.py          releasing the uploads and state of closed browser sessions
  query_input.py       the search page's query inputs: upload (with the window picker), map, table, random
  results.py           search results on the map and in the gallery
  explorer_map.py      the explorer's map layers (patches or aggregated cells)
  explorer_view.py     the explorer's map view in session state (fitted, requested, reported; clicks)
  evaluation_views.py  the Evaluation page's sections
"""
