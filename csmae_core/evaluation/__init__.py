"""Evaluation of retrieval in the four directions S1->S1, S2->S2, S1->S2, S2->S1.

  metrics.py      precision, recall, F1, AP, counterpart ranks (pure NumPy; search reports them per query too)
  run.py          one encoder's directions, and the baselines (random, band statistics, pixel correlation)
  compare.py      several encoders and the baselines in one report
  report.py       metrics.json and metrics.csv: written and read here only (read_report, EvaluationReport)
  plots.py        the report's plots
  projection.py   2-D projection and failure helpers; inspection.py: the failure tables of the Evaluation page
Evaluation never imports retrieval or training: it works on embeddings handed to it.
"""
