"""b2v_edge.common: the foundation every stage uses (numpy only; imports nothing above it).

Atomic writes, the deploy directory's manifest, metrics, image listing and cache folders. Training,
export, calibration, verification and the runtime all import from here; nothing here imports torch,
ONNX or any other b2v-edge package.
"""
