"""Evaluation: retrieval metrics (`metrics`, pure NumPy; search reports them per query too), the
four-direction run with baselines (`run`), metrics.json and its plots (`report`: written and read there
only), and the helpers of failure inspection (`projection`)."""
