"""Type stubs of the extension module ``unlearn._unlearn`` (python/src/*.rs)."""

from typing import Any

import numpy as np
import numpy.typing as npt

# Features, encoded targets, the encoding, ids, feature names, recommended scales,
# recommended clip norm, description.
_Dataset = tuple[
    npt.NDArray[np.float64],
    npt.NDArray[np.float64],
    dict[str, Any],
    list[str],
    list[str],
    npt.NDArray[np.float64],
    float | None,
    str,
]

DEFAULT_TOL: float
VERSION: str

class UnlearnError(Exception): ...
class NotCertified(UnlearnError): ...
class BudgetExhausted(NotCertified): ...
class NeedsFullPass(UnlearnError): ...
class DurableCommitWarning(UserWarning): ...

class Table:
    @property
    def n_rows(self) -> int: ...
    @property
    def feature_names(self) -> list[str]: ...

def read_table(capsule: Any, name: str) -> Table: ...

# X as the extension takes it: a float64 C-contiguous array, or a Table (taken once).
_Rows = npt.NDArray[np.float64] | Table

# Removed rows checked against the model (python/src/given_rows.rs).
class Given: ...

def given_table(
    unlearner: Unlearner,
    rows: Any,
    ids: list[str],
    subjects: list[str],
    id_column: str,
    subject_column: str | None = ...,
) -> Given: ...
def given_arrays(
    unlearner: Unlearner,
    x: npt.NDArray[np.float64],
    y: Any,
    row_ids: list[str],
    row_subjects: list[str] | None,
    ids: list[str],
    subjects: list[str],
) -> Given: ...

class Unlearner:
    def weights(self) -> npt.NDArray[np.float64]: ...
    def published(self) -> dict[str, Any]: ...
    def n_rows(self) -> int: ...
    def external(self) -> bool: ...
    def detach_rows(self) -> None: ...
    def scores(self, x: _Rows) -> npt.NDArray[np.float64]: ...
    def remove(self, ids: list[str], subjects: list[str] = ...) -> dict[str, Any]: ...
    def remove_given(self, given: Given) -> dict[str, Any]: ...
    def refresh_given(
        self, given: Given, partials: bytes, weights: npt.NDArray[np.float64]
    ) -> dict[str, Any]: ...
    def batch_spec(self) -> dict[str, Any]: ...
    def refresh_query(self, weights: npt.NDArray[np.float64]) -> bytes: ...
    def digest_request(self, id_column: str) -> bytes: ...
    def certificates(self) -> list[dict[str, Any]]: ...
    def verify(self) -> dict[str, Any]: ...
    def audit_against_retrain(self, seed: int) -> dict[str, Any]: ...
    def save(self, path: str, rebind: bool = ...) -> None: ...
    def close(self) -> None: ...
    def __enter__(self) -> Unlearner: ...
    def __exit__(self, exc_type: object, exc: object, traceback: object) -> bool: ...

def train(
    x: _Rows,
    y: npt.NDArray[np.float64],
    ids: list[str],
    subjects: list[str] | None,
    feature_names: list[str],
    encoding: dict[str, Any],
    classes_declared: bool,
    params: dict[str, Any],
) -> Unlearner: ...
def load(path: str, record: bool = ...) -> Unlearner: ...
def membership(
    x: _Rows,
    y: npt.NDArray[np.float64],
    ids: list[str],
    feature_names: list[str],
    encoding: dict[str, Any],
    params: dict[str, Any],
    never_seen: float,
    removed: int,
    canaries: bool,
    sequential: bool,
    shadows: int,
    bootstrap: int,
    seed: int,
) -> dict[str, Any]: ...
def epsilon(
    scenario: str,
    removed: int,
    releases: int,
    trials: int,
    confidence: float,
    seed: int,
    sigma: float | None,
) -> dict[str, Any]: ...
def make_synthetic(
    rows: int, features: int, flip: float, regression: bool, seed: int
) -> _Dataset: ...
def load_builtin(
    name: str,
) -> _Dataset: ...

# Distributed training (python/src/partials.rs): partial sums of Arrow batches (anything
# with __arrow_c_stream__ or __arrow_c_array__) at the query bytes of DistributedFit.weights().
# threads: the cores the caller holds (a Spark task: spark.task.cpus); None: every core.
def partial_sums(
    batch: Any,
    weights: bytes,
    spec: dict[str, Any],
    digest: bytes | None = None,
    threads: int | None = None,
) -> bytes: ...
def merge_partials(a: bytes, b: bytes) -> bytes: ...

class DistributedFit:
    def __init__(
        self,
        params: dict[str, Any],
        feature_names: list[str],
        encoding: dict[str, Any],
        target_column: str,
    ) -> None: ...
    def digest_request(self, id_column: str) -> bytes: ...
    def spec(self) -> dict[str, Any]: ...
    def weights(self) -> bytes: ...
    def absorb(self, total: bytes) -> bool: ...
    @property
    def passes(self) -> int: ...
    def summary(self) -> dict[str, Any]: ...
    def compare(self, unlearner: Unlearner) -> dict[str, list[float]]: ...
    def finish(self, classes_declared: bool = ..., subjects: bool = ...) -> Unlearner: ...

# A fit started at a fitted model's secret weights (python/src/distributed_warm.rs).
def warm_fit(
    params: dict[str, Any],
    feature_names: list[str],
    encoding: dict[str, Any],
    target_column: str,
    start: Unlearner,
) -> DistributedFit: ...

# Batches read once, summed at every pass (python/src/prepared_rows.rs).
def prepare_rows(batch: Any, spec: dict[str, Any], digest: bytes | None = ...) -> list[bytes]: ...
def prepared_sums(
    rows: bytes, weights: bytes, spec: dict[str, Any], threads: int | None = None
) -> bytes: ...
