"""b2v-edge: restore the sharp video hidden in one motion-blurred frame.

The PyTorch core (``b2v_edge.model``, ``b2v_edge.train`` ...) imports torch; the deploy-side
packages ``b2v_edge.export``, ``b2v_edge.calib`` and ``b2v_edge.runtime`` live in the top-level
``export/``, ``calib/`` and ``runtime/`` folders. ``b2v_edge.runtime`` never imports torch.
"""

__version__ = "0.1.0"
