"""``b2v_edge.verify``: parity and bench of a deploy dir's artifacts.

Nothing heavy is imported here; torch loads only where a PyTorch reference is recomputed or timed.
Modules: :mod:`~b2v_edge.verify.compare` (parity results, scoring, thresholds, the run),
:mod:`~b2v_edge.verify.data` (samples, the PyTorch reference, environment),
:mod:`~b2v_edge.verify.render` (json / md / html), :mod:`~b2v_edge.verify.bench` (speed table).
"""
