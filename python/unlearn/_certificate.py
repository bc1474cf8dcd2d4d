"""The records the core returns, as dataclasses: certificates, verification, audits."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class _Fields:
    """A record class's fields, as ``_from_dict`` reads them.

    All the names, those without a default, the default values, and the default factories
    (called once per record).
    """

    names: frozenset[str]
    required: frozenset[str]
    values: dict[str, Any]
    factories: dict[str, Any]

    @classmethod
    def of(cls, record: type) -> _Fields:
        fields = dataclasses.fields(record)
        missing = dataclasses.MISSING
        return cls(
            names=frozenset(f.name for f in fields),
            required=frozenset(
                f.name for f in fields if f.default is missing and f.default_factory is missing
            ),
            values={f.name: f.default for f in fields if f.default is not missing},
            factories={
                f.name: f.default_factory for f in fields if f.default_factory is not missing
            },
        )


_FIELDS: dict[type, _Fields] = {}


def _from_dict(cls: type, data: dict[str, Any]) -> Any:
    """Build dataclass ``cls`` from ``data``, refusing fields the class does not know.

    A new field in the core's reports must be added to the dataclass, so nothing the core
    reports is silently dropped; a missing field without a default is refused too. The
    record's ``__dict__`` is filled directly instead of through the frozen dataclass's
    ``__init__``, which calls ``object.__setattr__`` once per field: for a certificate's 33
    fields that was most of the Python side of a removal (BENCHMARKS.md, "A removal on the
    driver with the rows as arrays"). The records have no ``__post_init__``, so the result
    is the one the constructor would build (defaults included).
    """
    fields = _FIELDS.get(cls)
    if fields is None:
        fields = _FIELDS[cls] = _Fields.of(cls)
    keys = data.keys()
    unknown = keys - fields.names
    if unknown:
        raise ValueError(f"{cls.__name__}: unexpected fields {sorted(unknown)} from the core")
    missing = fields.required - keys
    if missing:
        raise ValueError(f"{cls.__name__}: the core's report lacks the fields {sorted(missing)}")
    record = object.__new__(cls)
    state = record.__dict__
    state.update(fields.values)
    for name, factory in fields.factories.items():
        if name not in data:
            state[name] = factory()
    state.update(data)
    return record


class _Record:
    """``to_dict`` and ``to_json`` for the dataclasses below."""

    def to_dict(self) -> dict[str, Any]:
        """Return the record as a dict of plain JSON values.

        Returns
        -------
        dict
            The fields, recursively.
        """
        return dataclasses.asdict(self)  # type: ignore[call-overload]

    def to_json(self, **kwargs: Any) -> str:
        """Return the record as JSON, exactly the core's field names.

        Parameters
        ----------
        **kwargs
            Passed to :func:`json.dumps` (``indent=2``, say).

        Returns
        -------
        str
            The JSON text.
        """
        return json.dumps(self.to_dict(), **kwargs)


@dataclass(frozen=True)
class Certificate(_Record):
    """One entry of the hash-chained ledger: the training run, a removal or a release.

    The fields are the core's ``Certificate`` (``crates/unlearn/src/certificate.rs``); the
    ones most callers read:

    Attributes
    ----------
    certified : bool
        Whether the published weights, with every release before them jointly, carry the
        stated (epsilon, delta) guarantee against the releases of a model retrained without
        the removed rows.
    reason : str or None
        Why not, when ``certified`` is false.
    epsilon, delta : float or None
        The guarantee (None without a privacy target).
    distance : float or None
        The charge of this entry's release: its distance bound to the retrained weights
        plus the grid rounding (0 when the weights are the retrain itself; None when
        nothing was published).
    transcript : dict
        All releases so far and their joint guarantee (``releases``, ``sensitivity``,
        ``epsilon``, ``delta``, ...).
    removed_id_tags : list of str
        Keyed tags (HMAC-SHA256 under the secret noise key) of the removed ids; the ledger
        never names them.
    erased_subject_tags : list of str
        Keyed tags of the data subjects whose last row this entry removed (empty when none;
        the core leaves the field out then).
    digest, previous : str
        This entry's SHA-256 and the previous entry's, which chain the ledger.
    release_sampler : str
        How the published release's discrete Gaussian noise read its keyed stream:
        ``"cks-compare-v4"`` (new lattice releases), ``"cks-compare-v3"`` or
        ``"cks-bits-v2"`` (earlier ones) or ``"cks-words-v1"`` (every release before the
        field, and releases without lattice noise; the core leaves the field out then).
    foreign_releases : list of dict
        Reconciliation entries only: the releases of another branch of the store's history
        that this entry charges, each ``{"entry": digest, "release": n, "charge": c}`` (empty
        otherwise; the core leaves the field out then).
    """

    format_version: int
    step: int
    kind: str
    removed_id_tags: list[str]
    rows_after: int
    digest_before: str | None
    digest_after: str
    release: int
    published: bool
    distance: float | None
    transcript: dict[str, Any]
    release_grid: float | None
    mechanism: str
    schedule: str
    results: list[str]
    unproven_assumptions: list[str]
    bounds: dict[str, Any]
    residual_bound: float
    budget_used: float
    budget: float | None
    budget_unit: str
    epsilon: float | None
    delta: float | None
    sigma: float
    noise_family: str
    regularization: str
    effective_lambda: float
    retrained: bool
    certified: bool
    reason: str | None
    previous: str | None
    digest: str
    erased_subject_tags: list[str] = dataclasses.field(default_factory=list)
    release_sampler: str = "cks-words-v1"
    foreign_releases: list[dict[str, Any]] = dataclasses.field(default_factory=list)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Certificate:
        """Build a certificate from the core's JSON object.

        Parameters
        ----------
        data : dict
            One certificate as the core serialises it.

        Returns
        -------
        Certificate
        """
        return _from_dict(cls, data)


@dataclass(frozen=True)
class Check(_Record):
    """One check of :meth:`verify`: its name, whether it held, and the numbers or failure."""

    name: str
    passed: bool
    detail: str


@dataclass(frozen=True)
class Verification(_Record):
    """What ``unlearn verify`` reports: every check, and the recomputed residual bounds.

    Attributes
    ----------
    checks : list of Check
        Ledger chain, published weights regenerated bit for bit, removed rows gone,
        transcript replayed, noise affords the target, residual within the charged bound.
    exact_residuals : list of float
        Upper bounds on the gradient norm of each class model's secret weights.
    """

    checks: list[Check]
    exact_residuals: list[float]

    @property
    def passed(self) -> bool:
        """Whether every check passed."""
        return all(c.passed for c in self.checks)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Verification:
        """Build the report from the core's JSON object."""
        checks = [_from_dict(Check, c) for c in data["checks"]]
        return cls(checks=checks, exact_residuals=data["exact_residuals"])


@dataclass(frozen=True)
class RetrainAudit(_Record):
    """What ``unlearn audit --against-retrain`` reports.

    Attributes
    ----------
    secret_weight_distance : float
        Distance between the unlearned and the retrained secret weights.
    certified_distance : float
        The distance the last certificate charged; under output perturbation
        ``secret_weight_distance`` does not exceed it.
    published_weight_distance : float
        Distance between the two published (noisy) models.
    remaining_agreement : float
        Share of the remaining rows on which the two published models agree (for
        regression: the RMS difference of their predictions).
    """

    rows: int
    secret_weight_distance: float
    certified_distance: float
    published_weight_distance: float
    exact_residuals: list[float]
    remaining_agreement: float
    removed_agreement: float | None
    removed_rows_found: int
    holdout: Any
    retrained_digest: str

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RetrainAudit:
        """Build the report from the core's JSON object."""
        return _from_dict(cls, data)
