"""Shared helpers for the model and op tests."""
import numpy as np

import liteport


def randomize(module, seed=0):
    """Seeded random weights that keep activations in a useful range: BatchNorm statistics and
    affine parameters are randomised too (torchvision's init leaves outputs near zero)."""
    import torch

    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d, torch.nn.BatchNorm3d)):
                c = m.num_features
                m.running_mean.copy_(torch.randn(c, generator=g) * 0.1)
                m.running_var.copy_(torch.rand(c, generator=g) * 0.5 + 0.75)
                if m.affine:
                    m.weight.copy_(torch.rand(c, generator=g) * 0.5 + 0.75)
                    m.bias.copy_(torch.randn(c, generator=g) * 0.1)
    return module.eval()


def assert_verified(report, min_ref=1e-3):
    """The export's verification passed on every output at every batch size, and the outputs are
    not so small that the absolute tolerance makes the check vacuous."""
    v = report.verification
    assert v is not None, "export() did not verify"
    assert v.ok, f"LiteRT differs from onnxruntime:\n{v}"
    for c in v.checks:
        assert c.max_ref >= min_ref, f"output {c.name} is ~0 (max|ort| = {c.max_ref:g}): a vacuous check\n{v}"
    return v


def tflite_ops(report):
    return dict(report.tflite_ops)


def run_litert(tflite_path, report, inputs):
    """Run a converted model through LiteRT with ONNX-layout inputs (dict) -> dict of outputs."""
    model = liteport.LiteRTModel(tflite_path, report)
    return model({k: np.asarray(v) for k, v in inputs.items()})
