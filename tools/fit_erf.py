"""Fits the two polynomials of liteport's Erf lowering (src/ops/math.c) and reports their error.

TFLite has no ERF kernel, so Erf is built from elementwise ops:
    |x| < 1:   erf(x) = x * A(x^2)
    |x| >= 1:  erf(|x|) = 1 - exp(-t^2) * B(t),  t = min(|x|, 4)
A is fitted for relative error on [0, 1] (in s = x^2), B for the absolute error of erf on [1, 4]
(weight exp(-t^2)), both by Lawson's iteratively reweighted least squares on Chebyshev nodes
with mpmath references, which converges to the minimax fit. The coefficients are rounded to
float32, as the model stores them, and the whole formula is then evaluated in float32 (Horner's
rule, one rounding per operation, as TFLite's MUL/ADD do) against mpmath.

    .venv/bin/python tools/fit_erf.py        # prints the coefficients and the errors
"""
import mpmath as mp
import numpy as np

mp.mp.dps = 40


def cheb_nodes(a, b, n):
    k = np.arange(n)
    return (a + b) / 2 + (b - a) / 2 * np.cos(np.pi * (k + 0.5) / n)


def fit(f, a, b, deg, weight, n=400, iters=30):
    xs = cheb_nodes(a, b, n)
    ys = np.array([float(f(mp.mpf(float(x)))) for x in xs])
    w = weight(xs, ys)
    v = np.vander(xs, deg + 1, increasing=True)
    lawson = np.ones(n)
    for _ in range(iters):
        sw = np.sqrt(lawson) * w
        c, *_ = np.linalg.lstsq(v * sw[:, None], ys * sw, rcond=None)
        e = np.abs(v @ c - ys) * w
        lawson = lawson * e
        lawson /= lawson.sum()
    return c.astype(np.float32)


def horner32(c, x):
    r = (x * c[-1]).astype(np.float32)
    for k in range(len(c) - 2, -1, -1):
        r = (r + c[k]).astype(np.float32)
        if k:
            r = (r * x).astype(np.float32)
    return r


def main():
    a = fit(lambda s: mp.erf(mp.sqrt(s)) / mp.sqrt(s) if s > 0 else 2 / mp.sqrt(mp.pi), 0.0, 1.0, 6,
            lambda xs, ys: 1 / np.abs(ys))
    b = fit(lambda t: mp.erfc(t) * mp.exp(t * t), 1.0, 4.0, 8, lambda xs, ys: np.exp(-xs ** 2))
    print("erf_a =", ", ".join("%.9e" % v for v in a))
    print("erf_b =", ", ".join("%.9e" % v for v in b))
    x = np.concatenate([np.linspace(-6, 6, 24001), np.geomspace(1e-8, 1, 400)]).astype(np.float32)
    ax = np.abs(x)
    small = (x * horner32(a, (x * x).astype(np.float32))).astype(np.float32)
    t = np.minimum(ax, np.float32(4))
    big = (np.float32(1) - (np.exp(-(t * t).astype(np.float32)).astype(np.float32) * horner32(b, t))).astype(np.float32)
    y = np.where(ax >= 1, np.where(x < 0, -big, big), small)
    ref = np.array([float(mp.erf(mp.mpf(float(v)))) for v in x])
    rel = np.abs(y.astype(np.float64) - ref) / np.maximum(np.abs(ref), 1e-30)
    print(f"float32 evaluation: max relative error {rel.max():.3g} at x = {x[np.argmax(rel)]}")


if __name__ == "__main__":
    main()
