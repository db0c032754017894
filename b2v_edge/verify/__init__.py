"""``b2v_edge.verify``: is a deploy dir right, and can this device run it? Parity, bench and doctor.

Nothing is imported here, and no module imports torch at load time: parity against the deploy
dir's stored reference set and ``doctor`` run on the base install; torch loads only where a PyTorch
reference is recomputed or timed (``bench``).

* :mod:`~b2v_edge.verify.reference` - the reference set written at export (inputs, PyTorch outputs,
  ground truth) and read anywhere.
* :mod:`~b2v_edge.verify.compare` - the comparator: per-frame scoring of an engine against the reference;
* :mod:`~b2v_edge.verify.results` - the result objects and thresholds (their JSON form).
* :mod:`~b2v_edge.verify.parity` - ``b2v-edge parity``: every artifact against the reference.
* :mod:`~b2v_edge.verify.render` - json / md / html / terminal (one row builder).
* :mod:`~b2v_edge.verify.bench` / :mod:`~b2v_edge.verify.bench_measure` - ``b2v-edge bench``.
* :mod:`~b2v_edge.verify.doctor`, :mod:`~b2v_edge.verify.probes`, :mod:`~b2v_edge.verify.fit` -
  ``b2v-edge doctor``: this device's facts, what b2v-edge supports on it, whether a deploy dir fits.
* :mod:`~b2v_edge.verify.data`, :mod:`~b2v_edge.verify.environment` - samples and the PyTorch
  checkpoint for recomputed references; the machine description in reports.
"""
