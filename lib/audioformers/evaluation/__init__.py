"""Evaluation: metrics, linear probes, trivial baselines, the evidence protocol and the papers' budgets."""
