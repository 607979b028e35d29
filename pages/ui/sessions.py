"""Releasing what closed browser sessions hold: their uploads and their session state.

Streamlit 1.67 keeps a session whose websocket closed for `server.disconnectedSessionTTL` seconds (120 by
default; the browser may reconnect to it after a network blip), in a TTL cache that drops expired
sessions only when something is written to it (another session disconnecting) and then drops them
without shutting them down: `AppSession.shutdown()`, which removes the session's files from the
uploaded-file manager (`MemoryUploadedFileManager.remove_session_files`), never runs for them. Their
upload bytes stay in the server for as long as it runs (the server RSS never falls back).

So one thread per server (`start_session_janitor`, an st.cache_resource) looks every CHECK_EVERY_S
seconds at the sessions holding uploaded files: one that has been disconnected for RELEASE_AFTER_S
seconds is closed through Streamlit's own thread-safe path (`Runtime.clear_user_info_for_session`: it
marks the session as not resumable and closes a stored session on the server's event loop, which shuts
it down: uploads removed, session state dropped), and its files are removed from the manager (which
also covers a session the TTL cache already dropped). RELEASE_AFTER_S is below the TTL, so the session
is still stored when it is closed. A session without uploads is left to Streamlit.

Closing a session frees its upload bytes only once nothing refers to them any more: the closed session's
widget state still holds its UploadedFile objects (which share the bytes) inside reference cycles, which
an idle server, allocating little, would not collect for a long time; and glibc keeps freed heap pages.
So on the sweep after a release the janitor runs `gc.collect()` (about 0.4 s with torch loaded, once per
release) and `malloc_trim(0)`, which hands free pages back to the system."""
from __future__ import annotations

import ctypes
import ctypes.util
import gc
import logging
import os
import threading
import time

import streamlit as st

log = logging.getLogger(__name__)
# a closed session's uploads are released this long after its websocket closed (tests shorten both)
RELEASE_AFTER_S = float(os.environ.get("CSMAE_RELEASE_AFTER_S", 30))
CHECK_EVERY_S = float(os.environ.get("CSMAE_CHECK_EVERY_S", 10))


class SessionJanitor(threading.Thread):
    """Closes disconnected sessions that hold uploads, RELEASE_AFTER_S after they disconnected."""

    def __init__(self, release_after_s: float = RELEASE_AFTER_S, every_s: float = CHECK_EVERY_S):
        super().__init__(name="csmae-session-janitor", daemon=True)
        self.release_after_s, self.every_s = release_after_s, every_s
        self.gone_since: dict[str, float] = {}  # session id -> when it was first seen disconnected
        self.released = 0
        self.collect_pending = False  # sessions were closed on the last sweep: collect on this one

    def run(self) -> None:
        while True:
            time.sleep(self.every_s)
            try:
                self.sweep()
            except Exception:  # noqa: BLE001 - the janitor must outlive whatever one sweep meets
                log.exception("releasing closed sessions failed")

    def sweep(self, now: float | None = None) -> list[str]:
        """One look at the sessions holding uploads; returns the ids released."""
        from streamlit.runtime import Runtime

        if not Runtime.exists():
            return []
        if self.collect_pending:  # the event loop has closed last sweep's sessions by now
            self.collect_pending = False
            gc.collect()
            trim_heap()
        runtime = Runtime.instance()
        manager = runtime.uploaded_file_mgr
        now = time.monotonic() if now is None else now
        holders = set(_session_ids_holding_files(manager)) | set(self.gone_since)
        released = []
        for session_id in holders:
            if runtime.is_active_session(session_id):
                self.gone_since.pop(session_id, None)
                continue
            if now - self.gone_since.setdefault(session_id, now) < self.release_after_s:
                continue
            runtime.clear_user_info_for_session(session_id)  # closes the stored session (see the docstring)
            manager.remove_session_files(session_id)
            del self.gone_since[session_id]
            released.append(session_id)
        if released:
            self.released += len(released)
            self.collect_pending = True
            log.info("released the uploads and state of %d closed session(s)", len(released))
        return released


def _session_ids_holding_files(manager) -> list[str]:
    """Ids of the sessions the uploaded-file manager holds files for (MemoryUploadedFileManager's
    `file_storage`; none for a manager without it). Copied under the manager's lock when it has one."""
    storage = getattr(manager, "file_storage", None)
    if storage is None:
        return []
    lock = getattr(manager, "_lock", None)
    if lock is None:
        return list(storage)
    with lock:
        return [session_id for session_id, files in storage.items() if files]


def trim_heap() -> bool:
    """glibc's malloc_trim(0): free heap pages go back to the system (False where there is no glibc)."""
    name = ctypes.util.find_library("c")
    try:
        return bool(ctypes.CDLL(name).malloc_trim(0)) if name else False
    except (OSError, AttributeError):
        return False


@st.cache_resource(show_spinner=False)
def start_session_janitor() -> SessionJanitor:
    """The server's one janitor thread, started on first use."""
    janitor = SessionJanitor()
    janitor.start()
    return janitor
