"""The audits from Python: small runs that check the reports' shape and basic sense."""

import numpy as np

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


def test_epsilon_audit_of_too_little_noise_finds_a_large_epsilon():
    weak = audit.epsilon("digits", sigma=1e-6, trials=200, seed=2)
    assert weak.audit["epsilon_lower"] > weak.certified_epsilon
    assert np.isfinite(weak.audit["max_reportable_epsilon"])
