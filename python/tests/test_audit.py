"""The audits from Python: small runs that check the reports' shape and basic sense."""

import re

import numpy as np
import pytest

from unlearn import CertifiedLogisticRegression, audit


def test_membership_audit_returns_its_report(digits):
    X, y, ids = digits
    report = audit.membership(
        CertifiedLogisticRegression(C=100.0, sigma=0.2),
        X,
        y,
        ids=ids,
        removed=20,
        shadows=4,
        bootstrap=50,
        seed=3,
    )
    assert report.removed == 20 and report.rows == len(ids)
    assert report.verdict in {"forgot", "not-forgotten", "no-power"}
    assert [a["attack"] for a in report.attacks] == ["loss-threshold", "lira"]
    auc = report.attacks[0]["retained"]["original"]["auc"]
    assert 0.0 <= auc["value"] <= 1.0
    # The core's ROC curves behind the removed rows' AUCs: the trapezoidal area of each is
    # the reported AUC (sums of multiples of 1/(mn): equal up to f64 rounding).
    for attack in ["loss-threshold", "lira"]:
        curves = report.roc_curves(attack)
        removed = next(a for a in report.attacks if a["attack"] == attack)["removed"]
        for model, curve in curves.items():
            area = np.sum(np.diff(curve.fpr) * (curve.tpr[1:] + curve.tpr[:-1]) / 2)
            assert abs(area - removed[model]["auc"]["value"]) < 1e-12


def test_membership_audit_names_its_python_arguments(digits):
    X, y, ids = digits
    est = CertifiedLogisticRegression(C=100.0, sigma=0.2)
    for kwargs, message in [
        ({"never_seen": 1.5}, "never_seen: must be a fraction in (0, 1)"),
        ({"shadows": 3}, "shadows: LiRA needs at least 2 shadow models"),
        ({"bootstrap": 0}, "bootstrap: must be at least 1"),
    ]:
        with pytest.raises(ValueError, match=re.escape(message)) as caught:
            audit.membership(est, X, y, ids=ids, removed=20, **kwargs)
        assert "--" not in str(caught.value)


def test_epsilon_audit_of_too_little_noise_finds_a_large_epsilon():
    weak = audit.epsilon("digits", sigma=1e-6, trials=200, seed=2)
    assert weak.audit["epsilon_lower"] > weak.certified_epsilon
    assert np.isfinite(weak.audit["max_reportable_epsilon"])
