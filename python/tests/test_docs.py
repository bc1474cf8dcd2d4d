"""The examples in the package's docstrings run and print what they show."""

import doctest

import pytest

import unlearn
from unlearn import _estimators

# Modules whose docstrings hold examples (the package's and the estimators').
WITH_EXAMPLES = [unlearn, _estimators]


@pytest.mark.parametrize("module", WITH_EXAMPLES, ids=lambda m: m.__name__)
def test_docstring_examples(module):
    failed, attempted = doctest.testmod(module, verbose=False)
    assert attempted > 0 and failed == 0


@pytest.mark.parametrize("method", ["fit", "remove", "verify", "audit_against_retrain", "load"])
def test_methods_document_what_they_return(method):
    for estimator in [unlearn.CertifiedLogisticRegression, unlearn.CertifiedRidge]:
        doc = getattr(estimator, method).__doc__
        assert "Returns\n" in doc, (estimator, method)
