# The two commands of the quickstart:  make run  (the app on the embedded demo)  and  make test.
# Both create the virtualenv and install the pinned requirements on first use; afterwards the
# install step is skipped until a requirements file changes.
VENV   ?= .venv
PYTHON := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: setup run test

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PYTHON) || python3 -m venv $(VENV)
	$(PYTHON) -m pip install --disable-pip-version-check -q -r requirements.txt -r requirements-dev.txt
	touch $(STAMP)

setup: $(STAMP)

# Streamlit's own settings apply (e.g. STREAMLIT_SERVER_PORT=8600 make run).
run: $(STAMP)
	$(VENV)/bin/streamlit run app.py

test: $(STAMP)
	$(PYTHON) -m pytest
