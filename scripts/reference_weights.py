#!/usr/bin/env python3
"""Independent reference weights for `unlearn`, computed with scikit-learn.

Writes one JSON fixture per case into tests/fixtures/reference/NAME.json.

Objective (the crate's, sigma = 0):
    L(w) = sum_i loss(w . x_i, y_i) + (Lambda / 2) * ||w||^2
    logistic, y in {-1, +1}:  loss(z, y) = log(1 + exp(-y z))
    squared:                  loss(z, y) = (z - y)^2 / 2
    "total" regularisation:      Lambda = lambda
    "per-sample" regularisation: Lambda = lambda * n   (n = number of training rows)

Preprocessing, in this order: x_j <- s_j * x_j; if a clip norm R is given, every row with
||x||_2 > R is replaced by x * R / ||x||_2; if the intercept is enabled, a constant 1 is
appended as the LAST column (after scaling and clipping) and its weight is regularised like
every other weight.  scikit-learn is therefore always fitted with fit_intercept=False on the
augmented matrix:
    LogisticRegression(C = 1 / Lambda)   (sklearn minimises C * L(w), same minimiser)
    Ridge(alpha = Lambda)                (Ridge minimises ||y - Xw||^2 + alpha ||w||^2 = 2 L(w))

Every result is then checked with this file's own numpy code (gradient and Hessian of L,
written here from the formulas above, independent of scikit-learn), and cross-checked against
an independent numpy Newton solve.  Nothing is polished: the fixture weights are scikit-learn's.

Environment used to generate the committed fixtures (a virtualenv outside the repository):
    python3 -m venv /work/venv-refs
    /work/venv-refs/bin/pip install scikit-learn==1.9.1 numpy==2.4.6 scipy==1.17.1
    # Python 3.11.7, numpy 2.4.6, scipy 1.17.1, scikit-learn 1.9.1

Regenerate (from the repository root):
    /work/venv-refs/bin/python scripts/reference_weights.py

The output is deterministic (no randomness; dictionaries written in a fixed order).
A per-case verification summary is printed to stdout (and is what
tests/fixtures/reference/README.md quotes).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import platform
import sys
import warnings
from pathlib import Path

import numpy as np
import scipy
import sklearn
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression, Ridge

REPO_ROOT = Path(__file__).resolve().parent.parent
GENERATOR = "python scripts/reference_weights.py"

# ----------------------------------------------------------------------------------------
# Data


def read_csv(name: str):
    """Return (header, rows as lists of strings) of data/NAME.csv, in file order."""
    path = REPO_ROOT / "data" / f"{name}.csv"
    with path.open(newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        rows = [r for r in reader if r]
    return header, rows


DATASETS = {
    # dataset -> target column
    "digits": "digit",
    "breast_cancer": "diagnosis",
    "diabetes": "progression",
}


def load(dataset: str, keep_labels):
    """Feature names, raw feature matrix (float64), target strings; rows in file order."""
    header, rows = read_csv(dataset)
    target = DATASETS[dataset]
    assert header[0] == "id" and header[-1] == target, header
    features = header[1:-1]
    if keep_labels is not None:
        rows = [r for r in rows if r[-1] in keep_labels]
    X = np.array([[float(v) for v in r[1:-1]] for r in rows], dtype=np.float64)
    labels = [r[-1] for r in rows]
    return features, X, labels


def preprocess(X, scales, clip_norm, intercept):
    """Scale, clip rows to clip_norm and append the intercept column, as the core does."""
    Z = X * scales[None, :]
    if clip_norm is not None:
        norms = np.sqrt(np.sum(Z * Z, axis=1))
        big = norms > clip_norm
        Z[big] = Z[big] * (clip_norm / norms[big])[:, None]
    if intercept:
        Z = np.hstack([Z, np.ones((Z.shape[0], 1))])
    return Z


def breast_cancer_scales(X):
    """s_j = 1 / 10^k_j with k_j = ceil(log10(max_j)) (max over the column, all rows)."""
    scales = []
    for j in range(X.shape[1]):
        k = math.ceil(math.log10(float(X[:, j].max())))
        # exact decimal constants: 10^-k written as 1/10^k for k > 0 and 10^|k| otherwise
        scales.append(1.0 / 10.0**k if k > 0 else float(10 ** (-k)))
    return np.array(scales)


DIABETES_SCALES = {
    "age": 1 / 100,
    "sex": 1 / 2,
    "bmi": 1 / 60,
    "bp": 1 / 150,
    "s1": 1 / 400,
    "s2": 1 / 300,
    "s3": 1 / 120,
    "s4": 1 / 10,
    "s5": 1 / 7,
    "s6": 1 / 150,
}

# ----------------------------------------------------------------------------------------
# Our own numpy objective (independent of scikit-learn)


def log1pexp(t):
    """log(1 + exp(t)), stable for all t."""
    return np.where(t > 0, t + np.log1p(np.exp(-np.abs(t))), np.log1p(np.exp(-np.abs(t))))


def sigmoid(t):
    """Return the logistic function, evaluated without overflow for large |t|."""
    e = np.exp(-np.abs(t))
    return np.where(t >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def objective(loss, X, y, w, lam):
    """Return the L2-regularised objective: data loss plus (lam/2)|w|^2."""
    z = X @ w
    if loss == "logistic":
        data = np.sum(log1pexp(-y * z))
    else:
        data = 0.5 * np.sum((z - y) ** 2)
    return data + 0.5 * lam * (w @ w)


def gradient(loss, X, y, w, lam):
    """Return the objective's gradient at w."""
    z = X @ w
    if loss == "logistic":
        r = -y * sigmoid(-y * z)  # d/dz log(1 + exp(-y z))
    else:
        r = z - y
    return X.T @ r + lam * w


def hessian(loss, X, y, w, lam):
    """Return the objective's Hessian at w."""
    z = X @ w
    if loss == "logistic":
        d = sigmoid(z) * sigmoid(-z)
    else:
        d = np.ones_like(z)
    return (X.T * d) @ X + lam * np.eye(X.shape[1])


def numpy_newton(loss, X, y, lam, iters=100):
    """Independent damped Newton solve from w = 0 (cross-check only, never written)."""
    w = np.zeros(X.shape[1])
    for _ in range(iters):
        g = gradient(loss, X, y, w, lam)
        H = hessian(loss, X, y, w, lam)
        step = np.linalg.solve(H, g)
        t, f0 = 1.0, objective(loss, X, y, w, lam)
        while objective(loss, X, y, w - t * step, lam) > f0 - 0.25 * t * (g @ step) and t > 1e-12:
            t *= 0.5
        w_new = w - t * step
        if np.max(np.abs(w_new - w)) <= 1e-17 * max(1.0, np.max(np.abs(w))):
            w = w_new
            break
        w = w_new
    return w


# ----------------------------------------------------------------------------------------
# scikit-learn fits


def sklearn_fit(loss, X, y, lam):
    """Fit with scikit-learn's Newton solver at the same penalty (warnings are errors)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        if loss == "logistic":
            m = LogisticRegression(
                solver="newton-cholesky",
                C=1.0 / lam,
                tol=1e-14,
                max_iter=1000,
                fit_intercept=False,
            )
            m.fit(X, y)
            assert list(m.classes_) == [-1.0, 1.0], m.classes_
            return m.coef_.ravel().copy(), int(np.max(m.n_iter_))
        m = Ridge(alpha=lam, fit_intercept=False, solver="cholesky")
        m.fit(X, y)
        return m.coef_.ravel().copy(), None


def verify(loss, X, y, w, lam, label):
    """Independent checks; returns the gradient norm and a summary dict."""
    g = gradient(loss, X, y, w, lam)
    gnorm = float(np.linalg.norm(g))
    g0 = float(np.linalg.norm(gradient(loss, X, y, np.zeros_like(w), lam)))
    H = hessian(loss, X, y, w, lam)
    eig = np.linalg.eigvalsh(H)
    # perturb w by a relative 1e-6 (w -> w (1 + 1e-6)): the gradient must grow far above gnorm
    gpert = float(np.linalg.norm(gradient(loss, X, y, w * (1 + 1e-6), lam)))
    w_np = numpy_newton(loss, X, y, lam)
    wnorm = float(np.linalg.norm(w))
    info = {
        "case": label,
        "grad_norm": gnorm,
        "grad_norm_at_zero": g0,
        "grad_rel": gnorm / g0,
        "lambda_min_H": float(eig[0]),
        "lambda_max_H": float(eig[-1]),
        # strong convexity with modulus lambda_min(H) near w (>= Lambda everywhere):
        "dist_bound_rel": gnorm / float(eig[0]) / wnorm,
        "grad_norm_w_times_1p1e-6": gpert,
        "numpy_newton_rel_diff": float(np.linalg.norm(w - w_np) / wnorm),
        "numpy_newton_max_elem_rel_diff": float(
            np.max(np.abs(w - w_np) / np.maximum(np.abs(w), 1e-300 + 1e-12 * wnorm))
        ),
        "w_norm": wnorm,
    }
    assert eig[0] >= lam * (1 - 1e-9), (eig[0], lam)
    assert info["dist_bound_rel"] < 1e-9, info
    assert info["numpy_newton_rel_diff"] < 1e-9, info
    assert gpert > 100 * gnorm, info
    return gnorm, info


# ----------------------------------------------------------------------------------------
# Cases

BC_BASE = dict(
    dataset="breast_cancer", keep_labels=None, positive="malignant", loss="logistic", clip_norm=1.0
)
DIA_BASE = dict(dataset="diabetes", keep_labels=None, positive=None, loss="squared", clip_norm=1.0)
DIG_BASE = dict(dataset="digits", positive=None, loss="logistic", clip_norm=None)

CASES = [
    dict(
        name="digits_3v8_logistic_total",
        **{**DIG_BASE, "positive": "8"},
        keep_labels=["3", "8"],
        regularization="total",
        lam=1.0,
        intercept=True,
    ),
    dict(
        name="digits_3v8_logistic_per_sample",
        **{**DIG_BASE, "positive": "8"},
        keep_labels=["3", "8"],
        regularization="per-sample",
        lam=1e-3,
        intercept=True,
    ),
    dict(
        name="breast_cancer_logistic_total",
        **BC_BASE,
        regularization="total",
        lam=0.1,
        intercept=True,
    ),
    dict(
        name="digits_ovr_logistic_total",
        **DIG_BASE,
        keep_labels=None,
        regularization="total",
        lam=1.0,
        intercept=True,
        ovr=True,
    ),
    dict(name="diabetes_ridge_total", **DIA_BASE, regularization="total", lam=1.0, intercept=True),
    dict(
        name="diabetes_ridge_per_sample_no_intercept",
        **DIA_BASE,
        regularization="per-sample",
        lam=1e-2,
        intercept=False,
    ),
    dict(
        name="breast_cancer_logistic_per_sample_no_intercept",
        **BC_BASE,
        regularization="per-sample",
        lam=1e-4,
        intercept=False,
    ),
]


def feature_scales(dataset, features, X):
    """Return the fixed, data-independent feature scales the core applies."""
    if dataset == "digits":
        return np.full(len(features), 1.0 / 128.0)
    if dataset == "breast_cancer":
        return breast_cancer_scales(X)
    return np.array([DIABETES_SCALES[f] for f in features])


def versions():
    """Return the versions of Python and the numerical packages."""
    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "sklearn": sklearn.__version__,
    }


def run_case(case):
    """Fit one case, check its gradient and Newton agreement, and return the fixture."""
    ds = case["dataset"]
    features, Xraw, labels = load(ds, case["keep_labels"])
    n = Xraw.shape[0]
    scales = feature_scales(ds, features, Xraw)
    X = preprocess(Xraw, scales, case["clip_norm"], case["intercept"])
    lam_eff = case["lam"] * n if case["regularization"] == "per-sample" else case["lam"]
    summaries = []
    classes = None
    if case.get("ovr"):
        classes = sorted(set(labels), key=lambda s: int(s))
        weights, gnorms = [], []
        for k in classes:
            y = np.array([1.0 if label == k else -1.0 for label in labels])
            w, it = sklearn_fit("logistic", X, y, lam_eff)
            g, info = verify("logistic", X, y, w, lam_eff, f"{case['name']}[{k}]")
            info["sklearn_n_iter"] = it
            weights.append([float(v) for v in w])
            gnorms.append(g)
            summaries.append(info)
        out_w, out_g = weights, gnorms
    else:
        if case["loss"] == "logistic":
            assert case["positive"] in labels
            assert len(set(labels)) == 2, set(labels)
            y = np.array([1.0 if label == case["positive"] else -1.0 for label in labels])
        else:
            y = np.array([float(label) for label in labels])
        w, it = sklearn_fit(case["loss"], X, y, lam_eff)
        g, info = verify(case["loss"], X, y, w, lam_eff, case["name"])
        info["sklearn_n_iter"] = it
        summaries.append(info)
        out_w, out_g = [float(v) for v in w], g
    fixture = {
        "name": case["name"],
        "dataset": ds,
        "target": DATASETS[ds],
        "keep_labels": case["keep_labels"],
        "positive": case["positive"],
        "loss": case["loss"],
        "regularization": case["regularization"],
        "lambda": case["lam"],
        "effective_lambda": lam_eff,
        "intercept": case["intercept"],
        "feature_scales": {f: float(s) for f, s in zip(features, scales, strict=True)},
        "clip_norm": case["clip_norm"],
        "n_rows": n,
        "classes": classes,
        "weights": out_w,
        "gradient_norm": out_g,
        "generator": GENERATOR,
        "versions": versions(),
    }
    return fixture, summaries


def main(argv=None):
    """Write every case's fixture and print the verification summary."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out-dir", default=str(REPO_ROOT / "tests" / "fixtures" / "reference"))
    ap.add_argument("--summary-json", default=None, help="also write the verification summary here")
    args = ap.parse_args(argv)
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    all_info = []
    for case in CASES:
        fixture, infos = run_case(case)
        (out / f"{case['name']}.json").write_text(json.dumps(fixture, indent=1) + "\n")
        for info in infos:
            all_info.append(info)
            print(
                f"{info['case']:<50} n_iter={info['sklearn_n_iter']}  "
                f"|grad|={info['grad_norm']:.3e}  "
                f"|grad|/|grad(0)|={info['grad_rel']:.3e}  eig_min(H)={info['lambda_min_H']:.6g}  "
                f"eig_max(H)={info['lambda_max_H']:.6g}  "
                f"|grad|/eig_min/|w|={info['dist_bound_rel']:.3e}  "
                f"|grad(w(1+1e-6))|={info['grad_norm_w_times_1p1e-6']:.3e}  "
                f"|w-w_numpy|/|w|={info['numpy_newton_rel_diff']:.3e}  "
                f"max_j rel diff={info['numpy_newton_max_elem_rel_diff']:.3e}"
            )
    if args.summary_json:
        Path(args.summary_json).write_text(json.dumps(all_info, indent=1) + "\n")
    print("versions:", json.dumps(versions()), file=sys.stderr)


if __name__ == "__main__":
    main()
