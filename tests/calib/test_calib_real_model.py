"""The precision plan and INT8 graph on the real network (tiny config, exported by b2v_edge.export).

Exporting with the dynamo exporter takes 1-5 minutes on the 2-core CI machines, so these tests are
``slow`` (run with ``pytest -m slow tests/calib``). The exported graphs are kept in pytest's cache
directory, keyed by the model source, so a re-run only pays for calibration.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path

import numpy as np
import onnx
import pytest
from tiny_model import TINY

pytestmark = pytest.mark.slow


def _export(path: Path, warp: str) -> Path:
    torch = pytest.importorskip("torch")
    from b2v_edge.export.onnx_export import export_onnx
    from b2v_edge.model import build_model

    torch.manual_seed(0)
    model = build_model("lite", 3, **TINY).eval()
    with torch.no_grad():  # zero-initialised heads / STN weights: small random values so features matter
        for p in model.parameters():
            if p.dim() > 1 and float(p.abs().max()) == 0.0:
                p.normal_(0.0, 0.1)
    return export_onnx(model, path, 64, 64, warp=warp)


@pytest.fixture(scope="module", params=["gather", "native"])
def real_onnx(request, tmp_path_factory) -> Path:
    import b2v_edge.model as model_pkg

    digest = hashlib.sha256()
    for f in sorted(Path(model_pkg.__file__).parent.glob("*.py")):
        digest.update(f.read_bytes())
    cache = request.config.cache
    folder = cache.mkdir("b2v-calib-models") if cache is not None else tmp_path_factory.mktemp("models")
    path = folder / f"tiny-{request.param}-{digest.hexdigest()[:12]}.onnx"
    return path if path.exists() else _export(path, request.param)


def test_plan_finds_the_warp_geometry(real_onnx):
    from b2v_edge.calib.plan import precision_plan

    model = onnx.load(str(real_onnx))
    plan = precision_plan(model)
    ops = {n.name: n.op_type for n in model.graph.node}
    count = Counter(n.op_type for n in model.graph.node)
    floats = set(plan.float_nodes())
    for op in ("GridSample", "GatherElements", "Gemm", "MatMul", "Floor", "DepthToSpace"):
        assert all(name in floats for name, t in ops.items() if t == op), op
    # the frame-batched decoders regress every frame's affine parameters with grouped 1x1 convolutions
    # after a global ReduceMean (no Gemm left): 11 regressors, all kept in float
    stn = Counter(ops[n] for n in plan.excluded["stn_regressor"])
    assert stn["ReduceMean"] == count["ReduceMean"] == 11 and stn["Gemm"] == count["Gemm"] == 0
    # 5 FTN levels x (body + head), each one grouped module for all non-middle frames
    assert Counter(ops[n] for n in plan.excluded["flow_head"])["Conv"] == 10
    assert len(plan.excluded["first_conv"]) == 1
    assert {"encoder.1", "middle.dense.0", "others.dense.3", "others.up_feat"} <= set(plan.groups)


def test_int8_graph_of_the_real_network(real_onnx, tmp_path, graphs):
    from b2v_edge.calib.api import run_calibration
    from b2v_edge.calib.options import CalibOptions

    warp = "gather" if "gather" in real_onnx.name else "native"
    deploy = graphs.make_deploy(tmp_path / "deploy", onnx.load(str(real_onnx)), warp, target="trt10")
    report = run_calibration(deploy, CalibOptions(samples=16, eval_samples=2, progress=False, cache_dir=tmp_path / "c"))
    qdq = onnx.load(str(deploy / "model.int8.onnx"))
    inits = {t.name: onnx.numpy_helper.to_array(t) for t in qdq.graph.initializer}
    q = [n for n in qdq.graph.node if n.op_type in ("QuantizeLinear", "DequantizeLinear")]
    assert q and all(not np.any(inits[n.input[2]]) for n in q)
    producer = {o: n.op_type for n in qdq.graph.node for o in n.output}
    for node in qdq.graph.node:
        if node.op_type in ("GridSample", "GatherElements"):
            assert not any(producer.get(i) in ("QuantizeLinear", "DequantizeLinear") for i in node.input)
    assert report.accuracy.mean_vs_fp32 >= 30.0
