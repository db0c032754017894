"""``b2v_edge.export``: checkpoint -> verified ONNX graphs, TensorRT plans and a deploy-dir manifest.

Nothing is imported here (torch, onnx and tensorrt load only when a submodule is used). Entry points:
``b2v_edge.export.api`` (export, export_default, lint_file, build_engine),
``b2v_edge.export.onnx_export.export_onnx``, ``b2v_edge.export.lint.lint_model``,
``b2v_edge.export.trt_build`` (the one TensorRT build module).
"""
