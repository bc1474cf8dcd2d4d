"""unlearn: certified machine unlearning for convex models, for scikit-learn users.

Train a logistic or ridge model, remove training rows by id without retraining, and get a
certificate that everything published is (epsilon, delta)-indistinguishable from what a
model retrained without those rows would publish. The work is done by the Rust core of
https://github.com/ (the ``unlearn`` workspace); this package is its scikit-learn face.

>>> from unlearn import CertifiedLogisticRegression, datasets
>>> X, y, ids = datasets.load_breast_cancer(return_X_y=True)
>>> est = CertifiedLogisticRegression(C=1.0).fit(X, y, ids=ids)
>>> certificate = est.remove([ids[0], ids[1]])
>>> certificate.certified, est.verify().passed
(True, True)
"""

from . import audit, datasets
from ._certificate import Certificate, Check, RetrainAudit, Verification
from ._estimators import CertifiedLogisticRegression, CertifiedRidge, pickle_through_store
from ._unlearn import VERSION as __version__
from ._unlearn import (
    BudgetExhausted,
    DurableCommitWarning,
    NeedsFullPass,
    NotCertified,
    UnlearnError,
)

__all__ = [
    "BudgetExhausted",
    "CertifiedLogisticRegression",
    "CertifiedRidge",
    "Certificate",
    "Check",
    "DurableCommitWarning",
    "NeedsFullPass",
    "NotCertified",
    "RetrainAudit",
    "UnlearnError",
    "Verification",
    "__version__",
    "audit",
    "datasets",
    "pickle_through_store",
]
