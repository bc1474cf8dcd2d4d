"""The scikit-learn estimators: ``CertifiedLogisticRegression`` and ``CertifiedRidge``.

Both follow scikit-learn's conventions (the constructor stores parameters only; fitted
attributes end in ``_``) and put the work in the Rust core: training, removal,
certificates, verification and the store. The objective is the core's,

    L(w) = sum_i loss(w . x_i, y_i) + (Lambda / 2) ||w||^2,

with the intercept an ordinary, regularised weight on a constant feature 1 appended after
clipping (scikit-learn leaves its intercept unregularised: with ``fit_intercept=True`` the
two differ by that penalty; ``fit_intercept=False`` on ``[X, 1]`` is the same problem).

Secret state (the training rows, the secret weights, the noise key, the ledger) lives in
the extension object ``_unlearner``, never in ``get_params``, ``repr`` or a pickle:
pickling a fitted estimator is refused unless :func:`pickle_through_store` names a
directory for its store (then the pickle holds only the store's path).
"""

from __future__ import annotations

import contextlib
import contextvars
import pickle
import secrets
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils import check_array, check_consistent_length, column_or_1d
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from . import _data, _unlearn
from ._certificate import Certificate, RetrainAudit, Verification

_PICKLE_STORE: contextvars.ContextVar[Path | None] = contextvars.ContextVar(
    "unlearn_pickle_store", default=None
)


@contextlib.contextmanager
def pickle_through_store(directory: str | Path) -> Iterator[Path]:
    """Let fitted estimators pickle by saving their store under ``directory``.

    Inside the ``with`` block, pickling a fitted estimator writes its store (secret state
    included, owner-only) to a new subdirectory of ``directory`` and puts only that path
    and the public attributes in the pickle; unpickling loads the store. Outside the block
    pickling a fitted estimator is refused.

    Parameters
    ----------
    directory : str or Path
        Where the stores are written (created if needed).

    Yields
    ------
    Path
        The directory.
    """
    path = Path(directory)
    token = _PICKLE_STORE.set(path)
    try:
        yield path
    finally:
        _PICKLE_STORE.reset(token)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    """1 / (1 + exp(-z)) without overflow."""
    out = np.empty_like(z)
    pos = z >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-z[pos]))
    e = np.exp(z[~pos])
    out[~pos] = e / (1.0 + e)
    return out


def _label_text(label: Any) -> str:
    """Spell a class label as the core (and model.json) does."""
    return str(label.item() if isinstance(label, np.generic) else label)


def _labels_from_text(texts: list[str]) -> np.ndarray:
    """Class labels read back from a store: ints if all are, else floats, else strings."""
    for kind in (int, float):
        try:
            return np.array([kind(t) for t in texts])
        except ValueError:
            continue
    return np.array(texts, dtype=object)


class _CertifiedEstimator(BaseEstimator):
    """What both estimators share: fitting, removal, certificates, the store, pickling."""

    _loss: str

    def _lambda(self) -> float:
        """Return the regularisation as the core reads it (Lambda, or lambda per sample)."""
        raise NotImplementedError

    def _encode(self, y: np.ndarray) -> tuple[np.ndarray, dict[str, Any], bool]:
        """Encode y: the targets, the core's target encoding, whether classes were declared."""
        raise NotImplementedError

    def _set_weights(self, weights: np.ndarray) -> None:
        """Set ``coef_`` and ``intercept_`` from the published weights (K x d[+1], new)."""
        raise NotImplementedError

    def _core_params(self) -> dict[str, Any]:
        return {
            "loss": self._loss,
            "lambda": float(self._lambda()),
            "regularization": self.regularization,
            "fit_intercept": bool(self.fit_intercept),
            "epsilon": None if self.epsilon is None else float(self.epsilon),
            "delta": None if self.delta is None else float(self.delta),
            "budget": None if self.budget is None else float(self.budget),
            "sigma": None if self.sigma is None else float(self.sigma),
            "clip_norm": None if self.clip_norm is None else float(self.clip_norm),
            "mechanism": self.mechanism,
            "tol": float(self.tol),
        }

    def _rows(self, X: Any, *, reset: bool, check_finite: bool = True) -> Any:
        """X for the extension: a table's rows read through Arrow, or a float64 C array.

        A table (pandas, polars, pyarrow; see ``_data``) is read by the extension into a
        ``Table`` after scikit-learn has checked its column names and count (and, with
        ``reset``, recorded them as ``feature_names_in_`` and ``n_features_in_``). Anything
        else is validated by scikit-learn into a float64 C-contiguous array; with
        ``check_finite=False`` its values are checked by the extension instead, in the
        same pass that copies them.
        """
        _data.reject_sparse(X)
        stream = _data.arrow_stream(X)
        if stream is None:
            return validate_data(
                self,
                X,
                reset=reset,
                dtype=np.float64,
                order="C",
                ensure_all_finite=check_finite,
            )
        validate_data(self, X, reset=reset, skip_check_array=True)
        table = _unlearn.read_table(stream, "X")
        if len(table.feature_names) != self.n_features_in_:
            raise ValueError(
                f"X has {self.n_features_in_} columns but {len(table.feature_names)} "
                "features (a list column holds several): give one numeric column per "
                "feature"
            )
        return table

    def _rows_and_targets(self, X: Any, y: Any) -> tuple[Any, np.ndarray]:
        """X as in :meth:`_rows` (values checked by the extension) and y, for training."""
        if y is None:
            raise ValueError(
                f"requires y to be passed, but the target y is None ({type(self).__name__} "
                "is supervised)"
            )
        rows = self._rows(X, reset=True, check_finite=False)
        y = column_or_1d(check_array(y, ensure_2d=False, dtype=None, input_name="y"), warn=True)
        if self._loss == "squared":
            y = y.astype(np.float64)
        n = rows.n_rows if isinstance(rows, _unlearn.Table) else rows.shape[0]
        check_consistent_length(np.empty(n), y)
        return rows, y

    def _feature_names(self) -> list[str]:
        names = getattr(self, "feature_names_in_", None)
        if names is not None:
            return [str(n) for n in names]
        return [f"x{j}" for j in range(self.n_features_in_)]

    @staticmethod
    def _ids(ids: Iterable[Any] | None, n: int) -> list[str]:
        if ids is None:
            return [str(i) for i in range(n)]
        out = [str(i) for i in ids]
        if len(out) != n:
            raise ValueError(f"ids has {len(out)} entries for {n} rows of X: give one id per row")
        return out

    @staticmethod
    def _subjects(subjects: Iterable[Any] | None, n: int) -> list[str] | None:
        if subjects is None:
            return None
        out = [str(s) for s in subjects]
        if len(out) != n:
            raise ValueError(
                f"subjects has {len(out)} entries for {n} rows of X: give one subject per row"
            )
        return out

    def fit(
        self,
        X: Any,
        y: Any,
        ids: Iterable[Any] | None = None,
        subjects: Iterable[Any] | None = None,
    ) -> Any:
        """Train with the secret noise and publish the first release.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training rows (numpy; pandas, polars and pyarrow tables through the Arrow C
            data interface; not sparse), used as given: scale them with constants chosen
            without looking at the data.
        y : array-like of shape (n_samples,)
            Targets.
        ids : iterable of str, optional
            A stable id per row, which removal requests name. Default "0".."n-1".
        subjects : iterable of str, optional
            The data subject of each row (who the row is about; a person may own many
            rows). A removal may then name subjects instead of rows (GDPR Art. 17 requests
            name a person). Default: no subjects.

        Returns
        -------
        self
        """
        X, y = self._rows_and_targets(X, y)
        encoded, encoding, declared = self._encode(y)
        n = len(y)
        self._unlearner = _unlearn.train(
            X,
            np.ascontiguousarray(encoded, dtype=np.float64),
            self._ids(ids, n),
            self._subjects(subjects, n),
            self._feature_names(),
            encoding,
            declared,
            self._core_params(),
        )
        self._refresh()
        return self

    def _refresh(self, certificate: Certificate | None = None) -> None:
        """Fitted attributes from the extension object.

        After fit or load the whole ledger is read; after a removal only its new
        ``certificate`` is appended (the ledger is append-only), so a removal's cost does
        not grow with the ledger, and the rest is read from it: the rows left
        (``rows_after``), and the published weights only if it published a release (an
        entry without one leaves the published model as it was).
        """
        if certificate is None:
            self._set_weights(self._unlearner.weights())
            entries = self._unlearner.certificates()
            self.certificates_ = [Certificate.from_dict(e) for e in entries]
            self.n_rows_ = self._unlearner.n_rows()
            return
        if certificate.published:
            self._set_weights(self._unlearner.weights())
        self.certificates_.append(certificate)
        self.n_rows_ = certificate.rows_after

    def _scores(self, X: Any) -> np.ndarray:
        check_is_fitted(self)
        return self._unlearner.scores(self._rows(X, reset=False))

    def remove(
        self,
        ids: str | Iterable[Any] | None = None,
        subjects: str | Iterable[Any] | None = None,
        *,
        rows: Any = None,
        X: Any = None,
        y: Any = None,
        row_ids: Iterable[Any] | None = None,
        row_subjects: Iterable[Any] | None = None,
        id_column: str = "id",
        subject_column: str | None = None,
        require_certified: bool = False,
    ) -> Certificate:
        """Remove training rows by id or by data subject, without retraining, and certify.

        One batch, one step: the rows are deleted from the secret state, the weights
        updated, a release published (as the publish policy says) and a certificate
        appended to the ledger. If the removal fails, nothing changes.

        A store-backed model (one loaded with :meth:`load`, or saved with :meth:`save`)
        records the release in its store's release log, synced, before ``remove`` returns:
        the certificate and the new weights may be shown at once. If the process then dies
        before :meth:`save`, or the save fails, the release stays charged to the store's
        budget (the store's next writer charges it; a store holding its rows also applies
        the removal, since its certificate may have been handed out). To record, the model
        takes the store's writer lock at its first removal and keeps it until :meth:`save`
        to that store or :meth:`close` returns (or the model is deleted): meanwhile other
        writers (another model, ``unlearn serve``, CLI commands) are refused, so let go of
        it when done (``with Estimator.load(path) as est:`` closes at the block's end). If
        the store cannot record — another writer holds it, another writer committed since
        this model was loaded, the directory is gone, the disk is full — ``remove`` raises,
        nothing is shown and the model is unchanged. A model trained here and never saved,
        or loaded with ``record=False``, has no store to charge: its releases are charged in
        its in-memory ledger only (:meth:`save` it before publishing if the store's budget
        must account for them).

        Parameters
        ----------
        ids : str or iterable of str, optional
            The ids of the rows to remove (as given to :meth:`fit`).
        subjects : str or iterable of str, optional
            Data subjects (as given to :meth:`fit`) whose remaining rows are all removed, in
            the same step as ``ids``.
        rows : table, optional
            For a model whose rows are external (:meth:`detach_rows`, or
            ``unlearn.spark.fit``): a table (pandas, polars, pyarrow; anything with
            ``__arrow_c_stream__``) holding exactly the removed rows, fetched from your table
            by id or by subject: the feature columns, the model's target column (``"y"`` for
            a model fitted here), ``id_column`` and, with subjects, ``subject_column``
            (required then). They must be exactly the rows of ``ids`` and of ``subjects``:
            a missing id, a row of neither, or subjects without ``subject_column`` raise
            ``ValueError``. ``subjects`` are recorded as erased, so all their rows must be
            there. The engine cannot check that they are the training rows with those ids,
            nor that a subject has no other rows: that is the caller's part (README,
            "External rows").
        X, y : numpy arrays, optional
            For a model whose rows are external, instead of ``rows``: the removed rows as
            arrays, the fastest form (no Arrow import; README, "External rows"). ``X`` is a
            float64 array of shape (m, n_features_in_), the features in the fit's column
            order, exactly as ``fit`` (or the Spark table) had them; ``y`` their m targets
            as ``fit`` took them (class labels, or values). The rows' ids are ``ids`` (row i
            of X is the row of ``ids[i]``) unless ``row_ids`` says otherwise; the same
            checks as for ``rows`` apply.
        row_ids, row_subjects : iterable of str, optional
            With ``X``: each row's id (default ``ids``; required with ``subjects``) and each
            row's data subject (required with ``subjects``, to check that the rows are
            theirs).
        id_column, subject_column : str
            The columns of ``rows`` that hold the ids and the subjects.
        require_certified : bool, default False
            Raise :class:`NotCertified` (or :class:`BudgetExhausted`, when the transcript
            used more than the budget) if the new certificate is not certified. The rows
            are removed all the same: a deletion is never undone; the exception carries the
            certificate as ``.certificate``.

        Returns
        -------
        Certificate
            The new ledger entry.

        Raises
        ------
        KeyError
            An id is not among the remaining rows, or a subject is unknown.
        ValueError
            The request is empty, repeats an id, names a subject already erased or a
            subject of a model fitted without subjects, or would remove every row; or the
            rows are external and none were given (or they cannot be the training rows).
        UnlearnError, OSError
            A store-backed model's store could not record the release (the message names
            the store and what to do); nothing changed.
        NeedsFullPass
            External rows: the step needs a pass over the remaining rows (a measured
            residual, an exact step, a re-solve). Nothing changed: delete the rows from your
            table, compute partial sums over the rest at re-solved weights and finish the
            request with :meth:`_refresh_from_partials`.
        """
        check_is_fitted(self)
        given = self._given(
            ids, subjects, rows, X, y, row_ids, row_subjects, id_column, subject_column
        )
        if given is None:
            removed = self._unlearner.remove(_names(ids), _names(subjects))
        else:
            removed = self._unlearner.remove_given(given)
        return self._after_removal(Certificate.from_dict(removed), require_certified)

    def _given(
        self,
        ids: str | Iterable[Any] | None,
        subjects: str | Iterable[Any] | None,
        rows: Any,
        X: Any,
        y: Any,
        row_ids: Iterable[Any] | None,
        row_subjects: Iterable[Any] | None,
        id_column: str,
        subject_column: str | None,
    ) -> Any:
        """Return the removed rows of an external-rows request, or None if none were given.

        The rows (an ``_unlearn.GivenRows``) come from the table ``rows``, or from the
        arrays ``X`` and ``y``.

        For arrays, only what the extension cannot say clearly is checked here (the kind,
        dimension and dtype of X, a missing y or row ids); the extension checks the shapes
        against the model and the values, naming the argument and the row. The values are
        never converted: rows that are not bit for bit the training rows are not the rows
        removed.
        """
        ids, subjects = _names(ids), _names(subjects)
        if X is None and y is None:
            if rows is None:
                return None
            return _unlearn.given_table(
                self._unlearner, _table_stream(rows), ids, subjects, id_column, subject_column
            )
        if rows is not None:
            raise ValueError("give the removed rows once: as a table (rows=) or as arrays (X=, y=)")
        if X is None or y is None:
            raise ValueError("rows given as arrays need both X (the features) and y (targets)")
        if not isinstance(X, np.ndarray):
            if _data.arrow_stream(X) is not None:
                raise TypeError(
                    "X must be a numpy array; give a table of the removed rows as rows= "
                    "(with its id column) instead"
                )
            X = np.asarray(X)
        if X.ndim != 2:
            raise ValueError(
                f"X must be two-dimensional, one row per removed row (got shape {X.shape}); "
                "for one row use X.reshape(1, -1)"
            )
        if X.dtype != np.float64:
            raise TypeError(
                f"X must be a float64 array (got {X.dtype}): give the removed rows' features "
                "as fit read them (float64); a conversion could change the values"
            )
        if subjects and (row_ids is None or row_subjects is None):
            raise ValueError(
                "the request erases subjects: give row_ids= and row_subjects= (each row of X's "
                "id and data subject), so that the rows can be checked to be theirs"
            )
        row_ids = ids if row_ids is None else _names(row_ids)
        owners = None if row_subjects is None else _names(row_subjects)
        if self._loss == "squared":
            targets = np.asarray(y, dtype=np.float64).reshape(-1)
        else:
            # tolist(): Python scalars, without one numpy scalar object per label.
            targets = [_label_text(v) for v in np.asarray(y).reshape(-1).tolist()]
        return _unlearn.given_arrays(self._unlearner, X, targets, row_ids, owners, ids, subjects)

    def _refresh_from_partials(
        self,
        partials: bytes,
        weights: Any,
        ids: str | Iterable[Any] | None = None,
        subjects: str | Iterable[Any] | None = None,
        *,
        rows: Any = None,
        X: Any = None,
        y: Any = None,
        row_ids: Iterable[Any] | None = None,
        row_subjects: Iterable[Any] | None = None,
        id_column: str = "id",
        subject_column: str | None = None,
        require_certified: bool = False,
    ) -> Certificate:
        """Finish a removal that raised :class:`NeedsFullPass`, from a pass over the rest.

        ``partials`` are the merged partial sums (``unlearn._unlearn.partial_sums`` per
        batch, ``merge_partials`` across them) over the remaining rows — the removed ones
        already deleted from the table — at the query ``self._unlearner.refresh_query(
        weights)`` under the spec ``self._unlearner.batch_spec()``, with the digest request
        ``self._unlearner.digest_request(id_column)`` (the rows' keyed digest, which must be
        the training rows' less every removed row's: else ``ValueError``, nothing
        changed); ``weights`` (K x d, one row per class model, the intercept last) are a
        re-solve's result. The request
        (``ids``, ``subjects``, and the rows as :meth:`remove` took them: ``rows``, or ``X``
        and ``y``) is the one that raised. The new weights are charged by their measured
        residual; the caches are reseeded from the sums.
        """
        check_is_fitted(self)
        given = self._given(
            ids, subjects, rows, X, y, row_ids, row_subjects, id_column, subject_column
        )
        if given is None:
            raise ValueError(
                "give the removed rows of the request that raised NeedsFullPass: rows= (a "
                "table) or X= and y= (arrays)"
            )
        refreshed = self._unlearner.refresh_given(
            given,
            bytes(partials),
            np.ascontiguousarray(np.atleast_2d(weights), dtype=np.float64),
        )
        return self._after_removal(Certificate.from_dict(refreshed), require_certified)

    def detach_rows(self) -> Any:
        """Let go of the training rows: from now on they live only in your table.

        The model keeps what a pass-free removal needs instead (row count, bounds, the
        Hessian and Gram caches, formed here from the rows); :meth:`remove` must then be
        given the removed rows (``rows=``). Output perturbation only.

        A store-backed estimator's store keeps the rows, so it can never take the removals
        of a detached model: after ``detach_rows``, :meth:`remove` raises (nothing changed)
        until the estimator is saved to a store of its own (``save(new_path)``, which then
        backs it). Refused while the estimator holds removals it recorded in its store and
        has not saved: :meth:`save` or :meth:`close` first.

        Returns
        -------
        self
        """
        check_is_fitted(self)
        self._unlearner.detach_rows()
        return self

    def _after_removal(self, certificate: Certificate, require_certified: bool) -> Certificate:
        """Record a removal's certificate; raise if it had to be certified and is not."""
        self._refresh(certificate)
        if require_certified and not certificate.certified:
            exhausted = certificate.budget is not None and (
                certificate.budget_used > certificate.budget
            )
            error_class = _unlearn.BudgetExhausted if exhausted else _unlearn.NotCertified
            error = error_class(
                f"the rows were removed, but the release is not certified: {certificate.reason}"
            )
            error.certificate = certificate
            raise error
        return certificate

    def verify(self) -> Verification:
        """Run every check of ``unlearn verify`` on the fitted model.

        Returns
        -------
        Verification
            The checks (``.passed`` says whether all held).
        """
        check_is_fitted(self)
        return Verification.from_dict(self._unlearner.verify())

    def audit_against_retrain(self, seed: int | None = None) -> RetrainAudit:
        """Retrain from scratch on the remaining rows and compare with the unlearned model.

        Parameters
        ----------
        seed : int, optional
            Seed of the retrained model's noise (random by default).

        Returns
        -------
        RetrainAudit
            Distances between the secret and the published weights, agreement.
        """
        check_is_fitted(self)
        seed = secrets.randbits(64) if seed is None else int(seed)
        return RetrainAudit.from_dict(self._unlearner.audit_against_retrain(seed))

    def save(self, path: str | Path) -> None:
        """Write the model's store (the directory the CLI reads: ``unlearn remove --store``).

        The secret directory holds the training rows and the noise key and is readable by
        its owner only. From now on the model is backed by this store: its removals are
        recorded in the store's release log before they return (:meth:`remove`). Saving to
        the store whose lock the model's removals took commits them through that lock (they
        are charged once) and lets go of it. If the save fails, the releases it carried were
        recorded already (by :meth:`remove`, or by the save itself), so they stay charged to
        the store's budget (their certificates may have been seen), but the removals are not
        applied by the failed save: call ``save`` again before any other removal (a retry
        commits them, each once: the estimator keeps the store's writer lock after a failed
        save to its own store, until the retry, :meth:`close`, or its end), or load the store
        again and remove again. If the commit is durable but
        the work after it fails (emptying the write-ahead log, rewriting ``model.json``),
        ``save`` returns and warns with :class:`unlearn.DurableCommitWarning` naming the file;
        the next save redoes that work.

        Parameters
        ----------
        path : str or Path
            The store directory (created if needed).
        """
        check_is_fitted(self)
        self._unlearner.save(str(path))

    def close(self) -> None:
        """Let go of the store: save the recorded removals and release the writer lock.

        A store-backed estimator holds its store's writer lock from its first removal until
        :meth:`save` (:meth:`remove`), which keeps other writers (``unlearn serve``, CLI
        commands, other estimators) out. ``close`` commits the removals it recorded there
        and has not saved — they were shown when :meth:`remove` returned and are charged
        already; left uncommitted, the store's next writer would apply them again, as a
        second release, and this estimator could no longer continue the store — then lets
        go of the lock. The estimator stays usable: a later :meth:`remove` takes the lock
        again (and records before it returns, as always), a later :meth:`save` works.
        Calling it again, or on an estimator that holds no lock (no store, ``record=False``,
        saved since its last removal), does nothing. ``with Estimator.load(path) as est:``
        calls it when the block ends, also on an exception (which propagates). If the
        commit fails the lock is let go all the same and the error is raised, as by a
        failed :meth:`save`: the recorded removals stay charged and are applied by the
        store's next writer (a store that holds its rows re-applies them, and a retried
        ``save`` is then refused as already applied: load the store again).
        """
        unlearner = getattr(self, "_unlearner", None)
        if unlearner is not None:
            unlearner.close()

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @classmethod
    def load(cls, path: str | Path, *, record: bool = True) -> Any:
        """Load an estimator from a store written by :meth:`save` or ``unlearn train``.

        Parameters are read back from the model (``sigma`` is None when a privacy target
        was recorded: the noise was calibrated for it). Class labels come back as ints
        when all are integers, else floats, else strings. Loading reads the last commit and
        takes no lock; it does not settle releases that a process which stopped before
        saving recorded in the store's log (the store's next writer does: a removal of this
        estimator then asks to load again).

        Parameters
        ----------
        path : str or Path
            The store directory.
        record : bool, default True
            Back the estimator by the store: each removal is recorded in the store's release
            log before it returns, so that what it shows is charged to the store's budget
            whatever happens next (:meth:`remove`); the writer lock the first removal takes
            is let go by :meth:`save` or :meth:`close` (use ``with``). False loads a copy
            that never writes to the store (an experiment, a comparison): its releases are
            charged in its own ledger only, so show nothing of them that the store's budget
            must account for, or :meth:`save` it first.

        Returns
        -------
        estimator
        """
        unlearner = _unlearn.load(str(path), record)
        published = unlearner.published()
        hyper = published["hyperparameters"]
        if hyper["loss"] != cls._loss:
            other = (
                "CertifiedRidge" if hyper["loss"] == "squared" else "CertifiedLogisticRegression"
            )
            raise ValueError(
                f"{path}: the store holds a '{hyper['loss']}' model; load it with {other}.load"
            )
        estimator = cls._from_published(published)
        target = hyper.get("privacy")
        estimator.set_params(
            regularization=hyper["regularization"],
            fit_intercept=hyper["intercept"],
            epsilon=target["epsilon"] if target else None,
            delta=target["delta"] if target else None,
            budget=target["budget"] if target else None,
            sigma=None if target else hyper["noise"]["scale"],
            clip_norm=published["preprocessing"]["clip_norm"],
            mechanism=hyper["mechanism"],
            tol=hyper["newton"]["tolerance"],
        )
        names = published["feature_names"]
        estimator.n_features_in_ = len(names)
        if names != [f"x{j}" for j in range(len(names))]:
            estimator.feature_names_in_ = np.array(names, dtype=object)
        estimator._unlearner = unlearner
        estimator._refresh()
        return estimator

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "_unlearner")

    def __getstate__(self) -> dict[str, Any]:
        # A copy: object.__getstate__ may return the instance's own __dict__.
        state = dict(super().__getstate__())
        if "_unlearner" not in state:
            return state
        directory = _PICKLE_STORE.get()
        if directory is None:
            raise pickle.PicklingError(
                f"a fitted {type(self).__name__} holds secret state (training rows, noise "
                "key) and is not pickled: save it with est.save(path) and reload it with "
                f"{type(self).__name__}.load(path), or pickle inside "
                "`with unlearn.pickle_through_store(directory):`, which writes the store "
                "there and pickles only its path"
            )
        store = directory / f"{type(self).__name__}-{uuid.uuid4().hex}"
        # The pickle's store is a copy: this estimator stays backed by its own store.
        state["_unlearner"].save(str(store), rebind=False)
        del state["_unlearner"]
        state["_store_path"] = str(store)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        store = state.pop("_store_path", None)
        super().__setstate__(state)
        if store is not None:
            self._unlearner = _unlearn.load(store)


_SHARED_PARAMETERS = """
    regularization : {"total", "per-sample"}, default "total"
        "total": the penalty is (Lambda / 2) ||w||^2; "per-sample": Lambda = lambda * n
        (Guo et al.'s convention), so the penalty shrinks as rows are removed.
    fit_intercept : bool, default True
        Append a constant feature 1 (after clipping) whose weight is the intercept; it is
        regularised like the other weights.
    epsilon, delta : float, default 1.0 and 1e-5
        The removal guarantee: every release, jointly, is (epsilon, delta)-indistinguishable
        from releases of a model retrained without the removed rows.
    budget : float, default 0.01
        The lifetime distance budget epsilon' the noise is calibrated for (when ``sigma``
        is None). Once spent, each removal re-solves from scratch.
    sigma : float, optional
        The release noise. None: calibrated from (epsilon, delta, budget). 0: no noise,
        never certified (scikit-learn's weights). Positive with ``epsilon``: the budget is
        what sigma affords.
    clip_norm : float, optional
        Rows with a larger Euclidean norm are scaled down to it (a data-independent bound).
    mechanism : {"output-perturbation", "guo2020"}, default "output-perturbation"
        How removals are certified; "guo2020" reproduces Guo et al. and is never certified.
    tol : float, default 1e-7
        The solver stops when the gradient norm of L is at most ``tol`` (so the weights are
        within tol / Lambda of the exact minimiser).
"""

_SHARED_ATTRIBUTES = """
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Column names of X, when it had string column names.
    certificates_ : list of Certificate
        The ledger: training first, then every removal.
    n_rows_ : int
        Training rows remaining.
"""


class CertifiedLogisticRegression(ClassifierMixin, _CertifiedEstimator):
    __doc__ = f"""L2-regularised logistic regression whose rows can be removed with a certificate.

    Binary, or one-vs-rest with one binary model per class. The objective is
    sum_i log(1 + exp(-y_i w.x_i)) + (Lambda / 2) ||w||^2 with Lambda = 1 / C, the
    minimiser of scikit-learn's ``LogisticRegression(C)`` objective (which leaves the
    intercept unregularised; see the module notes).

    Parameters
    ----------
    C : float, default 1.0
        Inverse regularisation strength, as in ``LogisticRegression``: Lambda = 1 / C
        ("total"), or lambda = 1 / C per sample ("per-sample").
    classes : array-like, optional
        Declare the classes (and their order) instead of inferring them from y; then a
        removal that takes a class's last row stays certified.
    {_SHARED_PARAMETERS}
    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The class labels.
    coef_ : ndarray of shape (1, n_features) or (n_classes, n_features)
        The published weights (noise included).
    intercept_ : ndarray of shape (1,) or (n_classes,)
        The published intercepts (0 without ``fit_intercept``).
    {_SHARED_ATTRIBUTES}
    Examples
    --------
    >>> from unlearn import CertifiedLogisticRegression, datasets
    >>> X, y, ids = datasets.load_breast_cancer(return_X_y=True)
    >>> est = CertifiedLogisticRegression(C=1.0).fit(X, y, ids=ids)
    >>> est.remove([ids[0]]).certified
    True
    """

    _loss = "logistic"

    def __init__(
        self,
        C: float = 1.0,
        *,
        regularization: str = "total",
        fit_intercept: bool = True,
        epsilon: float | None = 1.0,
        delta: float | None = 1e-5,
        budget: float | None = 0.01,
        sigma: float | None = None,
        clip_norm: float | None = None,
        classes: Any = None,
        mechanism: str = "output-perturbation",
        tol: float = _unlearn.DEFAULT_TOL,
    ) -> None:
        self.C = C
        self.regularization = regularization
        self.fit_intercept = fit_intercept
        self.epsilon = epsilon
        self.delta = delta
        self.budget = budget
        self.sigma = sigma
        self.clip_norm = clip_norm
        self.classes = classes
        self.mechanism = mechanism
        self.tol = tol

    def _lambda(self) -> float:
        if not (np.isfinite(self.C) and self.C > 0):
            raise ValueError(f"C must be a finite number > 0 (got {self.C})")
        return 1.0 / self.C

    def _encode(self, y: np.ndarray) -> tuple[np.ndarray, dict[str, Any], bool]:
        check_classification_targets(y)
        declared = self.classes is not None
        classes = np.asarray(self.classes) if declared else np.unique(y)
        if len(classes) < 2:
            raise ValueError(
                f"{type(self).__name__} needs at least two classes in y (got one class: "
                f"{classes.tolist()}); declare them with classes=[...] if the others have no "
                "rows yet"
            )
        index = {c: k for k, c in enumerate(classes.tolist())}
        if len(index) != len(classes):
            raise ValueError(f"classes names a class twice: {classes.tolist()}")
        try:
            codes = np.array([index[v] for v in y.tolist()], dtype=np.int64)
        except KeyError as e:
            raise ValueError(
                f"y has the label {e.args[0]!r}, which is not among classes={classes.tolist()}"
            ) from None
        self.classes_ = classes
        names = [_label_text(c) for c in classes]
        if len(classes) == 2:
            encoding = {"kind": "binary", "positive": names[1], "negative": names[0]}
            return np.where(codes == 1, 1.0, -1.0), encoding, declared
        return codes.astype(np.float64), {"kind": "multiclass", "classes": names}, declared

    def _set_weights(self, weights: np.ndarray) -> None:
        d = self.n_features_in_
        self.coef_ = weights[:, :d]
        self.intercept_ = weights[:, d].copy() if self.fit_intercept else np.zeros(len(weights))

    @classmethod
    def _from_published(cls, published: dict[str, Any]) -> CertifiedLogisticRegression:
        target = published["target"]
        if target["kind"] == "binary":
            names = [target["negative"], target["positive"]]
        else:
            names = target["classes"]
        classes = _labels_from_text(names)
        estimator = cls(C=1.0 / published["hyperparameters"]["lambda"])
        if published.get("declared", {}).get("classes"):
            estimator.set_params(classes=classes)
        estimator.classes_ = classes
        return estimator

    def decision_function(self, X: Any) -> np.ndarray:
        """Scores w.x + b of the published model.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_classes)
            For two classes, the score of ``classes_[1]``.
        """
        scores = self._scores(X)
        return scores[:, 0] if len(self.classes_) == 2 else scores

    def predict(self, X: Any) -> np.ndarray:
        """Predicted class labels (score >= 0 for ``classes_[1]``; largest score otherwise).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        scores = self.decision_function(X)
        if scores.ndim == 1:
            return self.classes_[(scores >= 0).astype(np.int64)]
        return self.classes_[np.argmax(scores, axis=1)]

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities: the sigmoid of the score (one-vs-rest, normalised).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
        """
        scores = self.decision_function(X)
        if scores.ndim == 1:
            p = _sigmoid(scores)
            return np.column_stack([1.0 - p, p])
        p = _sigmoid(scores)
        return p / p.sum(axis=1, keepdims=True)

    def predict_log_proba(self, X: Any) -> np.ndarray:
        """Logarithm of :meth:`predict_proba`."""
        return np.log(self.predict_proba(X))


class CertifiedRidge(RegressorMixin, _CertifiedEstimator):
    __doc__ = f"""Ridge regression whose rows can be removed with a certificate.

    The objective is sum_i (w.x_i - y_i)^2 / 2 + (Lambda / 2) ||w||^2 with Lambda = alpha,
    half of scikit-learn's ``Ridge(alpha)`` objective ||y - Xw||^2 + alpha ||w||^2 (the same
    minimiser; ``Ridge`` leaves the intercept unregularised, see the module notes).

    Parameters
    ----------
    alpha : float, default 1.0
        Regularisation strength, as in ``Ridge``: Lambda = alpha ("total"), or lambda =
        alpha per sample ("per-sample").
    {_SHARED_PARAMETERS}
    Attributes
    ----------
    coef_ : ndarray of shape (n_features,)
        The published weights (noise included).
    intercept_ : float
        The published intercept (0 without ``fit_intercept``).
    {_SHARED_ATTRIBUTES}
    """

    _loss = "squared"

    def __init__(
        self,
        alpha: float = 1.0,
        *,
        regularization: str = "total",
        fit_intercept: bool = True,
        epsilon: float | None = 1.0,
        delta: float | None = 1e-5,
        budget: float | None = 0.01,
        sigma: float | None = None,
        clip_norm: float | None = None,
        mechanism: str = "output-perturbation",
        tol: float = _unlearn.DEFAULT_TOL,
    ) -> None:
        self.alpha = alpha
        self.regularization = regularization
        self.fit_intercept = fit_intercept
        self.epsilon = epsilon
        self.delta = delta
        self.budget = budget
        self.sigma = sigma
        self.clip_norm = clip_norm
        self.mechanism = mechanism
        self.tol = tol

    def _lambda(self) -> float:
        return self.alpha

    def _encode(self, y: np.ndarray) -> tuple[np.ndarray, dict[str, Any], bool]:
        if y.ndim != 1:
            raise ValueError(f"y must be one-dimensional (got shape {y.shape})")
        return y.astype(np.float64), {"kind": "regression"}, False

    def _set_weights(self, weights: np.ndarray) -> None:
        d = self.n_features_in_
        self.coef_ = weights[0, :d].copy()
        self.intercept_ = float(weights[0, d]) if self.fit_intercept else 0.0

    @classmethod
    def _from_published(cls, published: dict[str, Any]) -> CertifiedRidge:
        return cls(alpha=published["hyperparameters"]["lambda"])

    def predict(self, X: Any) -> np.ndarray:
        """Predictions w.x + b of the published model.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        return self._scores(X)[:, 0]


def _table_stream(rows: Any) -> Any:
    """Return the Arrow C stream of the removed rows' table (a ``TypeError`` if not a table)."""
    _data.reject_sparse(rows)
    stream = _data.arrow_stream(rows)
    if stream is None:
        raise TypeError(
            "rows must be a table holding the removed rows (pandas, polars or pyarrow: "
            "anything with __arrow_c_stream__), with the feature, target and id columns"
        )
    return stream


def _names(names: str | Iterable[Any] | None) -> list[str]:
    """One name or many, as the list of strings the extension takes."""
    if names is None:
        return []
    return [names] if isinstance(names, str) else [str(n) for n in names]
