"""coef_ against scikit-learn with the same C / alpha and tol, on the embedded data.

The tolerance is derived, not tuned. L(w) = sum_i loss_i(w) + (Lambda/2)||w||^2 is
Lambda-strongly convex, so any w is within ||grad L(w)|| / Lambda of the minimiser w*.
unlearn stops when a guaranteed upper bound on ||grad L|| is at most tol; scikit-learn's
gradient at its own solution w_s is computed here (numpy, independent of both). Hence

    ||w - w_s|| <= (tol + ||grad L(w_s)|| + r) / Lambda,

r a bound on the rounding of that numpy gradient (n * eps * sum_i |loss'_i| ||x_i|| plus
the same for the penalty). The test asserts this bound, and that it is below 1e-6 relative
(the issue's target), so a looser solve on either side fails it.

scikit-learn leaves its intercept unregularised; unlearn regularises it (a constant feature
1). So scikit-learn is fitted with fit_intercept=False on [X, 1] for unlearn's
fit_intercept=True, and on X for fit_intercept=False. Multiclass unlearn is one-vs-rest,
compared with OneVsRestClassifier.

"The same tol": unlearn's tol bounds ||grad L|| of the sum objective; scikit-learn's
newton-cholesky stops on its gradient of the objective divided by n (it minimises the mean
loss plus the penalty / n), so the same stopping point there is tol / n. Ridge's cholesky
solver is direct and takes no tol.
"""

import numpy as np
import pytest
from conftest import with_ones
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.multiclass import OneVsRestClassifier

from unlearn import CertifiedLogisticRegression, CertifiedRidge

EPS = np.finfo(np.float64).eps
TOL = 1e-7


def logistic_gradient(X, y_pm, w, lam):
    """Gradient of sum log(1 + exp(-y w.x)) + lam/2 ||w||^2, with its rounding bound."""
    z = y_pm * (X @ w)
    d = -y_pm / (1.0 + np.exp(z))  # loss'(z) w.r.t. the margin, |d| <= 1
    g = X.T @ d + lam * w
    n = X.shape[0]
    rounding = (
        (n + X.shape[1]) * EPS * (np.abs(d) @ np.linalg.norm(X, axis=1) + lam * np.linalg.norm(w))
    )
    return g, rounding


def squared_gradient(X, y, w, lam):
    r = X @ w - y
    g = X.T @ r + lam * w
    n = X.shape[0]
    rounding = (
        (n + X.shape[1]) * EPS * (np.abs(r) @ np.linalg.norm(X, axis=1) + lam * np.linalg.norm(w))
    )
    return g, rounding


def sklearn_logistic(C, n_rows):
    """scikit-learn's Newton logistic regression on the design as given (intercept column
    included, so unregularised intercept off), at the tolerance that matches ours: its tol
    applies to the mean loss's gradient, ours to the summed one."""
    return LogisticRegression(C=C, fit_intercept=False, solver="newton-cholesky", tol=TOL / n_rows)


def assert_logistic_close(ours, design, y, positive, theirs, C):
    """Our weights are within the derived bound of scikit-learn's logistic weights for the
    one-vs-rest task ``y == positive``."""
    y_pm = np.where(y == positive, 1.0, -1.0)
    g, rounding = logistic_gradient(design, y_pm, theirs, 1.0 / C)
    assert_close(ours, theirs, np.linalg.norm(g), rounding, 1.0 / C)


def assert_close(ours, theirs, gradient_norm, rounding, lam):
    bound = (TOL + gradient_norm + rounding) / lam
    distance = np.linalg.norm(ours - theirs)
    assert distance <= bound, (distance, bound)
    assert bound <= 1e-6 * np.linalg.norm(theirs), (bound, np.linalg.norm(theirs))


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("C", [1.0, 0.1])
def test_binary_logistic_matches_sklearn(breast_cancer, fit_intercept, C):
    X, y, _ = breast_cancer
    est = CertifiedLogisticRegression(C=C, sigma=0, fit_intercept=fit_intercept, tol=TOL).fit(X, y)
    design = with_ones(X) if fit_intercept else X
    ref = sklearn_logistic(C, len(y)).fit(design, y)
    ours = np.append(est.coef_[0], est.intercept_) if fit_intercept else est.coef_[0]
    assert_logistic_close(ours, design, y, est.classes_[1], ref.coef_[0], C)
    assert list(est.classes_) == list(ref.classes_)


def test_one_vs_rest_logistic_matches_sklearn(digits):
    X, y, _ = digits
    C = 1.0
    est = CertifiedLogisticRegression(C=C, sigma=0, tol=TOL).fit(X, y)
    design = with_ones(X)
    ref = OneVsRestClassifier(sklearn_logistic(C, len(y))).fit(design, y)
    assert list(est.classes_) == list(ref.classes_)
    for k, model in enumerate(ref.estimators_):
        ours = np.append(est.coef_[k], est.intercept_[k])
        assert_logistic_close(ours, design, y, ref.classes_[k], model.coef_[0], C)


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("alpha", [1.0, 0.01])
def test_ridge_matches_sklearn(diabetes, fit_intercept, alpha):
    X, y, _ = diabetes
    est = CertifiedRidge(alpha=alpha, sigma=0, fit_intercept=fit_intercept, tol=TOL).fit(X, y)
    design = with_ones(X) if fit_intercept else X
    ref = Ridge(alpha=alpha, fit_intercept=False, solver="cholesky").fit(design, y)
    ours = np.append(est.coef_, est.intercept_) if fit_intercept else est.coef_
    g, rounding = squared_gradient(design, y, ref.coef_, alpha)
    assert_close(ours, ref.coef_, np.linalg.norm(g), rounding, alpha)
