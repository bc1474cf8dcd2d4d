"""Removal: equals retraining, certificates, the ledger, verification and the errors."""

import re

import numpy as np
import pytest

import unlearn
from unlearn import Certificate, CertifiedLogisticRegression, CertifiedRidge

TOL = 1e-7


def test_ridge_removal_equals_retraining(diabetes):
    """Without noise the published weights are the secret ones. A removal leaves them within
    (r + tol)/Lambda of a retrain on the remaining rows (r: the certificate's exact residual
    bound, the retrain's gradient at most tol; L is Lambda-strongly convex), and on this data
    that is far below the 1e-8 relative the issue asks for, which is asserted too."""
    X, y, ids = diabetes
    alpha = 1.0
    est = CertifiedRidge(alpha=alpha, sigma=0, tol=TOL).fit(X, y, ids=ids)
    removed = [ids[3], ids[10], ids[200]]
    certificate = est.remove(removed)
    keep = np.array([i not in removed for i in ids])
    retrained = CertifiedRidge(alpha=alpha, sigma=0, tol=TOL).fit(
        X[keep], y[keep], ids=[i for i in ids if i not in removed]
    )
    ours = np.append(est.coef_, est.intercept_)
    theirs = np.append(retrained.coef_, retrained.intercept_)
    residual = certificate.bounds["exact_residual"][0]
    distance = np.linalg.norm(ours - theirs)
    assert distance <= (residual + TOL) / alpha
    assert distance <= 1e-8 * np.linalg.norm(theirs)
    assert certificate.rows_after == len(ids) - 3 == est.n_rows_


def test_logistic_removal_is_within_the_certificates_distance(breast_cancer):
    X, y, ids = breast_cancer
    est = CertifiedLogisticRegression(C=1.0).fit(X, y, ids=ids)
    certificate = est.remove(ids[:5])
    assert certificate.certified and certificate.published
    # A certified release draws lattice noise with the comparison sampler's fourth format,
    # named in the certificate.
    assert certificate.release_sampler == "cks-compare-v4"
    audit = est.audit_against_retrain(seed=7)
    assert audit.rows == len(ids) - 5
    assert audit.secret_weight_distance <= audit.certified_distance
    assert audit.certified_distance == certificate.budget_used


def test_certificates_ledger_and_verify(breast_cancer):
    X, y, ids = breast_cancer
    est = CertifiedLogisticRegression(C=1.0).fit(X, y, ids=ids)
    assert [c.kind for c in est.certificates_] == ["training"]
    first = est.remove(ids[0])
    second = est.remove([ids[1], ids[2]])
    kinds = [c.kind for c in est.certificates_]
    assert kinds == ["training", "removal", "removal"]
    assert est.certificates_[-1] == second
    assert second.previous == first.digest
    assert len(second.removed_id_tags) == 2 and ids[1] not in second.to_json()
    assert second.transcript["releases"] == 3
    report = est.verify()
    assert report.passed, [c for c in report.checks if not c.passed]
    assert {c.name for c in report.checks} >= {"ledger chain", "published weights"}
    again = Certificate.from_dict(second.to_dict())
    assert again == second


def test_errors_map_to_python_exceptions(breast_cancer):
    X, y, ids = breast_cancer
    est = CertifiedLogisticRegression(C=1.0).fit(X, y, ids=ids)
    digest = est.certificates_[-1].digest
    with pytest.raises(KeyError, match="nope"):
        est.remove(["nope"])
    with pytest.raises(ValueError, match="more than once"):
        est.remove([ids[0], ids[0]])
    with pytest.raises(ValueError, match="no ids"):
        est.remove([])
    with pytest.raises(ValueError, match="would leave no training rows"):
        est.remove(ids)
    assert est.certificates_[-1].digest == digest, "a refused removal changes nothing"
    with pytest.raises(ValueError, match="lambda must be"):
        CertifiedRidge(alpha=-1.0, sigma=0).fit(X, y == "malignant")
    with pytest.raises(ValueError, match="budget"):
        CertifiedLogisticRegression(budget=None).fit(X, y)
    # The core's noise rule (shared with the CLI) names the Python parameters, not flags.
    for params, message in [
        ({"budget": None}, "epsilon needs budget ("),
        ({"delta": None}, "Gaussian noise needs delta ("),
        ({"epsilon": None, "sigma": None}, "give the noise: sigma (0 for none"),
        ({"sigma": -1.0}, "sigma must be a finite number"),
    ]:
        with pytest.raises(ValueError, match=re.escape(message)) as caught:
            CertifiedLogisticRegression(**params).fit(X, y)
        assert "--" not in str(caught.value)
    with pytest.raises(ValueError, match="regularization"):
        CertifiedLogisticRegression(regularization="mean").fit(X, y)
    with pytest.raises(ValueError, match="one id per row"):
        CertifiedLogisticRegression().fit(X, y, ids=ids[:3])
    with pytest.raises(ValueError, match="duplicate id"):
        CertifiedLogisticRegression().fit(X, y, ids=["a"] * len(y))
    assert issubclass(unlearn.BudgetExhausted, unlearn.NotCertified)
    assert issubclass(unlearn.NotCertified, unlearn.UnlearnError)


def test_require_certified_raises_but_keeps_the_removal(breast_cancer):
    X, y, ids = breast_cancer
    est = CertifiedLogisticRegression(C=1.0, sigma=0).fit(X, y, ids=ids)
    with pytest.raises(unlearn.NotCertified, match="no noise") as caught:
        est.remove(ids[0], require_certified=True)
    assert not caught.value.certificate.certified
    assert est.n_rows_ == len(ids) - 1
    with pytest.raises(KeyError):
        est.remove(ids[0])


def test_declared_classes_keep_a_removal_of_a_class_certified():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3)) / 4
    y = np.array(["a"] * 29 + ["b"] * 30 + ["c"])
    ids = [f"r{i}" for i in range(60)]
    inferred = CertifiedLogisticRegression().fit(X, y, ids=ids)
    declared = CertifiedLogisticRegression(classes=["a", "b", "c"]).fit(X, y, ids=ids)
    assert not inferred.remove("r59").certified
    assert declared.remove("r59").certified
    with pytest.raises(ValueError, match="not among classes"):
        CertifiedLogisticRegression(classes=["a", "b"]).fit(X, y)


def test_a_subject_is_erased_in_one_step(diabetes):
    """Rows owned by one data subject go in one step, with one certificate naming the
    subject by a keyed tag (never in clear), and the model equals removing the same rows by
    id (ridge without noise: both are the same batch step on the same rows). A subject
    erased before, an unknown subject and a model fitted without subjects are refused with
    the errors the docstring names."""
    X, y, ids = diabetes
    owners = [f"person{i % 40}" for i in range(len(ids))]
    owned = [i for i, o in zip(ids, owners, strict=True) if o == "person7"]
    by_subject = CertifiedRidge(alpha=1.0, sigma=0, tol=TOL).fit(X, y, ids=ids, subjects=owners)
    certificate = by_subject.remove(subjects="person7")
    assert certificate.rows_after == len(ids) - len(owned) == by_subject.n_rows_
    assert len(certificate.removed_id_tags) == len(owned)
    assert "person7" not in certificate.to_json()
    by_ids = CertifiedRidge(alpha=1.0, sigma=0, tol=TOL).fit(X, y, ids=ids, subjects=owners)
    by_ids.remove(owned)
    np.testing.assert_array_equal(by_subject.coef_, by_ids.coef_)
    with pytest.raises(ValueError, match="already"):
        by_subject.remove(subjects="person7")
    with pytest.raises(KeyError):
        by_subject.remove(subjects="nobody")
    without = CertifiedRidge(alpha=1.0, sigma=0, tol=TOL).fit(X, y, ids=ids)
    with pytest.raises(ValueError, match="no data subjects"):
        without.remove(subjects="person7")
    with pytest.raises(ValueError, match="one subject per row"):
        CertifiedRidge(alpha=1.0, sigma=0).fit(X, y, subjects=owners[:-1])


def test_the_certificate_dataclass_knows_every_field_of_the_core():
    """Every field of the core's ``Certificate`` struct is a field of the dataclass.

    ``Certificate.from_dict`` refuses unknown fields (so nothing the core reports is dropped);
    a field the dataclass lacks makes every certificate that carries it fail to load — as
    reconciliation entries (``foreign_releases``) did. Read from the struct's source, since
    the core leaves optional fields out of most certificates' JSON.
    """
    import dataclasses
    from pathlib import Path

    source = Path(__file__).parents[2] / "crates/unlearn/src/certificate.rs"
    body = source.read_text().split("pub struct Certificate {", 1)[1].split("\n}\n", 1)[0]
    core = set(re.findall(r"^    pub (\w+):", body, flags=re.MULTILINE))
    assert "foreign_releases" in core and "digest" in core, "the struct's fields were not read"
    python = {f.name for f in dataclasses.fields(Certificate)}
    assert core - python == set()
