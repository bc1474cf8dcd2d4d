"""Certified unlearning, step by step: a notebook-style walkthrough (jupytext percent)."""

# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Certified unlearning, step by step
#
# A notebook-style walkthrough of `unlearn` (jupytext "percent" format: open it as a
# notebook with jupytext, or run it as a plain script). We train a certified logistic
# regression on the embedded digits, erase one data subject's rows without retraining,
# read the certificate and the ledger, verify them, compare with an actual retraining, and
# end with a membership-inference audit and its ROC curves.
#
# The ROC curve needs matplotlib: `pip install "unlearn-certified[plot]"`. Run headless,
# the script writes `membership_roc.png` in the working directory (with `MPLBACKEND=Agg`).

# %%
from unlearn import CertifiedLogisticRegression, audit, datasets

# %% [markdown]
# ## The data
#
# 1,797 handwritten digits (8×8 pixels), scaled by documented constants (never by
# statistics of the rows: a scale computed from the data would leak the rows into the
# model). Each row has a stable id, which removal requests name.

# %%
X, y, ids = datasets.load_digits(return_X_y=True)
print(X.shape, ids[:3])

# %% [markdown]
# A deletion request usually names a person, not a row. Here, for illustration, each
# "writer" contributed six consecutive digits; `fit(..., subjects=...)` records who each
# row is about.

# %%
subjects = [f"writer-{i // 6}" for i in range(len(ids))]

# %% [markdown]
# ## Training
#
# Every release, jointly, is (ε, δ) = (1, 10⁻⁵)-indistinguishable from what a model
# retrained without the removed rows would publish, for a lifetime distance budget
# ε′ = 0.01 that the noise is calibrated for. `C` is scikit-learn's (Λ = 1/C).

# %%
model = CertifiedLogisticRegression(C=1.0, epsilon=1.0, delta=1e-5, budget=0.01)
model.fit(X, y, ids=ids, subjects=subjects)
print(f"accuracy {model.score(X, y):.3f}, {model.n_rows_} rows, classes {model.classes_}")

# %% [markdown]
# ## Erasing a data subject
#
# One request, one Newton step on the secret weights, one new release and one
# certificate. Nothing is retrained.

# %%
certificate = model.remove(subjects="writer-7")
print(f"certified: {certificate.certified}")
print(f"rows left: {certificate.rows_after}")
print(f"charged distance to the retrained weights: {certificate.distance:.3e}")
print(f"budget used: {certificate.budget_used:.3e} of {certificate.budget}")
print(
    f"transcript: {certificate.transcript['releases']} releases, "
    f"epsilon {certificate.transcript['epsilon']:.3g}, delta {certificate.transcript['delta']:g}"
)

# %% [markdown]
# ## The ledger
#
# Training first, then every removal: a hash chain (each entry names the previous
# entry's digest). Removed ids appear only as keyed tags, never in clear.

# %%
for entry in model.certificates_:
    print(
        f"{entry.step:>2} {entry.kind:<8} rows {entry.rows_after:>5}  "
        f"certified {entry.certified}  {entry.digest[:16]}… ← {str(entry.previous)[:16]}"
    )

# %% [markdown]
# ## Verification
#
# Every check of `unlearn verify`: the chain, the published weights regenerated bit for
# bit, the removed rows gone, the transcript replayed, the noise affording the target, the
# residual within the charged bound.

# %%
report = model.verify()
for check in report.checks:
    print(f"{'ok  ' if check.passed else 'FAIL'} {check.name}")
print(f"verified: {report.passed}")

# %% [markdown]
# ## Against an actual retraining
#
# Retrain from scratch on the remaining rows and compare: the secret weights are within
# the distance the certificate charged.

# %%
retrain = model.audit_against_retrain(seed=0)
print(
    f"secret-weight distance {retrain.secret_weight_distance:.3e} "
    f"<= certified {retrain.certified_distance:.3e}"
)
print(f"the two published models agree on {retrain.remaining_agreement:.1%} of the rows")

# %% [markdown]
# ## Membership inference
#
# Can an attacker who sees only the released weights tell that removed rows were trained
# on? The audit splits the digits into never-seen and training rows, plants canaries
# (mislabelled rows a model must memorise), trains, removes the canaries with the
# unlearner, retrains without them, and attacks every row under the three released models
# (a loss threshold, and the likelihood-ratio attack LiRA with shadow models). Little
# noise (σ = 0.05) and weak regularisation (C = 100) make the original model remember.

# %%
membership = audit.membership(
    CertifiedLogisticRegression(C=100.0, sigma=0.05),
    X,
    y,
    ids=ids,
    removed=40,
    shadows=8,
    bootstrap=200,
    seed=1,
)
print(f"verdict: {membership.verdict}")
for attack in membership.attacks:
    auc = {m: attack["removed"][m]["auc"]["value"] for m in ("original", "unlearned", "retrained")}
    print(f"{attack['attack']:<15} AUC " + ", ".join(f"{m} {a:.3f}" for m, a in auc.items()))

# %% [markdown]
# ## The ROC curves
#
# The curves come from the core's audit (not recomputed here). The original model's curve
# bows above the diagonal: it remembers the canaries. An unlearner that forgot them has
# the retrained model's curve.

# %%
import matplotlib.pyplot as plt  # noqa: E402 (an optional dependency, needed only here)

curves = membership.roc_curves("lira")
figure, axes = plt.subplots(figsize=(5, 5))
for name, curve in curves.items():
    axes.plot(curve.fpr, curve.tpr, label=name)  # ties between rows: diagonal segments
axes.plot([0, 1], [0, 1], color="grey", linestyle=":", label="chance")
axes.set(
    xlabel="false-positive rate",
    ylabel="true-positive rate",
    title="LiRA: removed rows vs never-seen controls",
)
axes.legend(loc="lower right")
figure.savefig("membership_roc.png", dpi=120, bbox_inches="tight")
plt.show()
print("wrote membership_roc.png", {m: len(c.fpr) for m, c in curves.items()})
