"""Evaluation: the paper's protocols (`protocols`), results files and tables
(`tables`), Figure 2's curves (`curves`), the evaluation runner behind
`experiments/evaluate.py` (`runner`), `make evaluate` (`shipped`), and the
figures (`plots` from saved results, `examples` from a RIM)."""
