"""The built-in demo: a small CNN trained in seconds on scikit-learn's digits, taken to LiteRT.

    python -m liteport.demo [--out DIR]

Trains ``digits`` (8x8 grayscale digits bundled with scikit-learn, no download) on a fixed split,
exports it with liteport.export (dynamic batch, verified against onnxruntime), then runs the
held-out images through the LiteRT interpreter and compares its predictions with PyTorch's. Exits
non-zero unless every prediction agrees.
"""
import argparse
import os
import sys
import time

import numpy as np

SEED = 0


def load_data():
    """(x_train, x_test, y_train, y_test): images as float32 [N,1,8,8] in 0..1, labels int64."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    d = load_digits()
    x = (d.images.astype(np.float32) / 16.0).reshape(-1, 1, 8, 8)
    y = d.target.astype(np.int64)
    return train_test_split(x, y, test_size=0.25, random_state=0)


def make_model():
    """The `digits` CNN: Conv(1->8) ReLU MaxPool Conv(8->16) ReLU, flatten, Linear(->10)."""
    import torch
    from torch import nn

    class Digits(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 8, 3, padding=1)
            self.pool = nn.MaxPool2d(2)
            self.conv2 = nn.Conv2d(8, 16, 3, padding=1)
            self.fc = nn.Linear(16 * 4 * 4, 10)

        def forward(self, x):
            x = self.pool(torch.relu(self.conv1(x)))
            x = torch.relu(self.conv2(x))
            return self.fc(x.view(x.size(0), -1))

    return Digits()


def train(epochs=40, threads=2, verbose=False):
    """Train `digits` (deterministic: fixed seed, fixed split). Returns (model, data, seconds)."""
    import torch

    torch.manual_seed(SEED)
    torch.set_num_threads(threads)
    x_train, x_test, y_train, y_test = load_data()
    model = make_model()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    loss_fn = torch.nn.CrossEntropyLoss()
    xt = torch.from_numpy(x_train)
    yt = torch.from_numpy(y_train)
    gen = torch.Generator().manual_seed(SEED)
    t0 = time.perf_counter()
    model.train()
    for epoch in range(epochs):
        order = torch.randperm(len(xt), generator=gen)
        for i in range(0, len(xt), 64):
            idx = order[i:i + 64]
            opt.zero_grad()
            loss = loss_fn(model(xt[idx]), yt[idx])
            loss.backward()
            opt.step()
        if verbose:
            print(f"epoch {epoch + 1}: loss {loss.item():.4f}")
    model.eval()
    return model, (x_train, x_test, y_train, y_test), time.perf_counter() - t0


def torch_predict(model, x):
    import torch

    with torch.no_grad():
        return model(torch.from_numpy(x)).numpy()


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m liteport.demo", description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="out/demo", help="folder for digits.onnx / digits.tflite")
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--exporter", default="default", choices=("default", "dynamo", "torchscript"))
    args = ap.parse_args(argv)

    import liteport
    from liteport.verify import LiteRTModel

    model, (x_train, x_test, y_train, y_test), secs = train(epochs=args.epochs)
    torch_logits = torch_predict(model, x_test)
    torch_pred = torch_logits.argmax(1)
    torch_acc = float((torch_pred == y_test).mean())
    print(f"trained digits CNN on {len(x_train)} images in {secs:.1f} s")
    print(f"PyTorch held-out accuracy: {torch_acc:.2%} ({int((torch_pred == y_test).sum())}/{len(y_test)})")

    os.makedirs(args.out, exist_ok=True)
    out = os.path.join(args.out, "digits.tflite")
    report = liteport.export(model, (_tensor(x_test[:1]),), out,
                             input_names=["image"], output_names=["logits"],
                             exporter=args.exporter)
    print()
    print(report)
    print()
    print(report.verification)
    print()

    lite = LiteRTModel(out, report)
    lite_logits = lite({"image": x_test})["logits"]  # the whole held-out set, one batch
    lite_pred = lite_logits.argmax(1)
    lite_acc = float((lite_pred == y_test).mean())
    agree = int((lite_pred == torch_pred).sum())
    diff = float(np.max(np.abs(lite_logits - torch_logits)))
    print(f"LiteRT  held-out accuracy: {lite_acc:.2%} ({int((lite_pred == y_test).sum())}/{len(y_test)})")
    print(f"predictions agreeing with PyTorch: {agree}/{len(y_test)} (max |logit diff| {diff:.2e})")
    if agree != len(y_test):
        print("liteport demo: LiteRT and PyTorch disagree", file=sys.stderr)
        return 1
    return 0


def _tensor(a):
    import torch

    return torch.from_numpy(np.ascontiguousarray(a))


if __name__ == "__main__":
    sys.exit(main())
