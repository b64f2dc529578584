"""Fixtures shared by several test files."""
import hashlib
import os

import pytest


@pytest.fixture(scope="session")
def digits(request):
    """The built-in demo CNN trained on scikit-learn's digits (liteport.demo.train), once per
    session: (model, (x_train, x_test, y_train, y_test)). The trained weights are kept in pytest's
    cache, keyed by the demo's source, so later sessions skip the ~1 minute of training."""
    import torch

    from liteport import demo

    data = demo.load_data()
    with open(demo.__file__, "rb") as f:
        key = "liteport/digits-" + hashlib.sha256(f.read()).hexdigest()[:16]
    cached = request.config.cache.get(key, None) if not os.environ.get("LITEPORT_RETRAIN") else None
    model = demo.make_model()
    if cached:
        model.load_state_dict({k: torch.tensor(v) for k, v in cached.items()})
        model.eval()
    else:
        model, data, _ = demo.train()
        request.config.cache.set(key, {k: v.tolist() for k, v in model.state_dict().items()})
    return model, data
