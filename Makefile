# The two commands of the quickstart:  make run  (the app on the embedded demo)  and  make test.
# Both create the virtualenv and install the pinned requirements on first use; afterwards the
# install step is skipped until a requirements file changes.
VENV   ?= .venv
PYTHON := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: setup run test browser

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	test -x $(PYTHON) || python3 -m venv $(VENV)
	$(PYTHON) -m pip install --disable-pip-version-check -q -r requirements.txt -r requirements-dev.txt
	# the project itself, editable: scripts and tests import csmae_core without path edits
	$(PYTHON) -m pip install --disable-pip-version-check -q --no-deps --no-build-isolation -e .
	touch $(STAMP)

setup: $(STAMP)

# Streamlit's own settings apply (e.g. STREAMLIT_SERVER_PORT=8600 make run).
run: $(STAMP)
	$(VENV)/bin/streamlit run app.py

# The end-to-end tests drive Debian's Chromium (never a downloaded browser).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium for the browser tests"; \
	  apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null; } \
	  || echo "could not install chromium (not root?): the e2e tests will say so"

test: $(STAMP) browser
	$(PYTHON) -m pytest
