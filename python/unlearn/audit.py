"""Audits that check a removal from outside its certificate.

- :func:`membership`: membership inference (loss threshold and LiRA) on removed vs
  never-seen rows under the original, unlearned and retrained models
  (``unlearn audit-membership``);
- :func:`epsilon`: a statistical lower bound on the epsilon the removal mechanism
  achieves, next to the epsilon its certificates state (``unlearn audit-epsilon``).

Each returns a dataclass; nested parts of the reports (intervals, per-attack contrasts)
are plain dicts with the core's field names.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from . import _unlearn
from ._certificate import _from_dict, _Record
from ._estimators import _CertifiedEstimator

__all__ = ["EpsilonReport", "MembershipReport", "RocCurve", "epsilon", "membership"]


@dataclass(frozen=True)
class RocCurve:
    """A ROC curve as the core computes it (``crates/unlearn/src/membership/roc.rs``).

    One point per distinct score, from flagging no row (0, 0) to flagging every row
    (1, 1); both rates are non-decreasing, and the trapezoidal area is the report's AUC.

    Attributes
    ----------
    fpr, tpr : ndarray of shape (n_points,)
        False- and true-positive rates.
    """

    fpr: np.ndarray
    tpr: np.ndarray


@dataclass(frozen=True)
class MembershipReport(_Record):
    """The membership-inference audit (``crates/unlearn/src/membership/mod.rs``).

    Attributes
    ----------
    verdict : str
        "forgot", "not-forgotten" or "no-power".
    attacks : list of dict
        Per attack ("loss-threshold", "lira"): AUC and TPR at low FPR with bootstrap
        intervals for the original, unlearned and retrained models, on removed vs
        never-seen rows (``removed``, with its ROC curves in ``removed_curves``; see
        :meth:`roc_curves`) and retained vs never-seen rows (``retained``).
    """

    rows: int
    removed: int
    retained: int
    never_seen: int
    canaries: bool
    controls: int
    retrainings: int
    shadows: int
    bootstrap: int
    confidence: float
    min_fpr: float
    attacks: list[dict[str, Any]]
    verdict: str

    def roc_curves(self, attack: str = "lira") -> dict[str, RocCurve]:
        """Return one attack's ROC curves on the removed rows against their controls.

        Parameters
        ----------
        attack : {"lira", "loss-threshold"}, default "lira"
            The attack.

        Returns
        -------
        dict of str to RocCurve
            One curve per released model: "original", "unlearned" and "retrained". An
            unlearned model that forgot the rows has a curve like the retrained one's.
        """
        for report in self.attacks:
            if report["attack"] == attack:
                curves = report["removed_curves"]
                return {
                    model: RocCurve(np.asarray(c["fpr"]), np.asarray(c["tpr"]))
                    for model, c in curves.items()
                }
        known = [a["attack"] for a in self.attacks]
        raise ValueError(f"no attack {attack!r} in the report (it has {known})")


@dataclass(frozen=True)
class EpsilonReport(_Record):
    """The empirical-epsilon audit (``crates/unlearn/src/empirical_epsilon``).

    Attributes
    ----------
    certified_epsilon : float
        The epsilon the certificates state.
    audit : dict
        The statistical audit; ``audit["epsilon_lower"]`` is below the true epsilon with
        probability at least ``audit["confidence"]``.
    """

    scenario: str
    mechanism: str
    rows: int
    removed: list[str]
    releases: int
    calibrated_scale: float
    release_scale: float
    certified_epsilon: float
    transcript_epsilon: float | None
    per_release_epsilon: float | None
    exact_divergence: float | None
    audit: dict[str, Any]
    seconds: float


def membership(
    estimator: _CertifiedEstimator,
    X: Any,
    y: Any,
    *,
    ids: Any = None,
    never_seen: float = 0.5,
    removed: int = 100,
    canaries: bool = True,
    sequential: bool = True,
    shadows: int = 64,
    bootstrap: int = 1000,
    seed: int = 0,
) -> MembershipReport:
    """Audit a removal by membership inference on the released weights.

    Can an attacker who sees only the released weights tell the removed rows were used?
    Splits the population (X, y) into never-seen and training rows, trains ``estimator``'s
    model on the training rows, removes ``removed`` of them with the unlearner, retrains
    without them, and attacks every row under the three released models.

    Parameters
    ----------
    estimator : CertifiedLogisticRegression or CertifiedRidge
        Its parameters set the models (it need not be fitted; it is not changed).
    X, y : array-like
        The population.
    ids : iterable of str, optional
        Row ids (default "0".."n-1").
    never_seen : float, default 0.5
        Share of the population held out.
    removed : int, default 100
        Training rows removed.
    canaries : bool, default True
        Mislabel the removed rows and as many never-seen rows (a linear model barely
        memorises typical rows).
    sequential : bool, default True
        Remove the rows one at a time (else as one batch).
    shadows : int, default 64
        Shadow models of the likelihood-ratio attack.
    bootstrap : int, default 1000
        Bootstrap replicates of every interval.
    seed : int, default 0
        Seed of the split, the noise, the shadows and the bootstrap.

    Returns
    -------
    MembershipReport
    """
    template = estimator.__sklearn_clone__()
    X, y = template._rows_and_targets(X, y)
    encoded, encoding, _ = template._encode(y)
    report = _unlearn.membership(
        X,
        np.ascontiguousarray(encoded, dtype=np.float64),
        template._ids(ids, len(y)),
        template._feature_names(),
        encoding,
        template._core_params(),
        float(never_seen),
        int(removed),
        bool(canaries),
        bool(sequential),
        int(shadows),
        int(bootstrap),
        int(seed),
    )
    return _from_dict(MembershipReport, report)


def epsilon(
    scenario: str = "digits",
    *,
    removed: int = 5,
    releases: int = 1,
    trials: int | None = None,
    confidence: float = 0.95,
    seed: int = 1,
    sigma: float | None = None,
) -> EpsilonReport:
    """Bound the epsilon of a removal from below, statistically, from many trials.

    Parameters
    ----------
    scenario : {"digits", "guo2020-counterexample"}, default "digits"
        Digits 3 vs 8 under the default mechanism, or the 1-D counterexample to Guo et
        al.'s Theorem 3.
    removed : int, default 5
        Rows removed.
    releases : int, default 1
        Removal requests, each publishing a release.
    trials : int, optional
        Trials (default 1,000 for digits, 1,000,000 for the counterexample).
    confidence : float, default 0.95
        Confidence of the lower bound.
    seed : int, default 1
        Seed of every trial.
    sigma : float, optional
        Publish with this noise instead of the calibrated one (digits only).

    Returns
    -------
    EpsilonReport
    """
    if trials is None:
        trials = 1_000_000 if scenario == "guo2020-counterexample" else 1000
    report = _unlearn.epsilon(
        scenario, int(removed), int(releases), int(trials), float(confidence), int(seed), sigma
    )
    return _from_dict(EpsilonReport, report)
