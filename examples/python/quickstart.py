"""Train a certified model, remove rows without retraining, read the certificate, verify."""

from unlearn import CertifiedLogisticRegression, datasets

# Digits (scaled by documented constants, never by statistics of the rows), with row ids.
X, y, ids = datasets.load_digits(return_X_y=True)

# Every release, jointly, (1, 1e-5)-indistinguishable from retraining, for a lifetime
# distance budget of 0.01; C = 1/Lambda as in scikit-learn's LogisticRegression.
model = CertifiedLogisticRegression(C=1.0, epsilon=1.0, delta=1e-5, budget=0.01)
model.fit(X, y, ids=ids)
print(f"accuracy {model.score(X, y):.3f} on {model.n_rows_} rows")

certificate = model.remove(["d0003", "d0008", "d0013"])  # one batch, no retraining
print(f"certified: {certificate.certified}, epsilon {certificate.transcript['epsilon']:.3g}")
print(f"distance to the retrained model <= {certificate.distance:.2e}")

report = model.verify()  # ledger chain, published bits, removed rows gone, residuals
print(f"verified: {report.passed} ({len(model.certificates_)} ledger entries)")
