"""A store-backed estimator's removal is charged in its store before it is shown (review 6,
finding 1): ``remove()`` records the release in the store's release log, synced, before it
returns, so a process that dies before ``save()``, or a ``save()`` that fails, leaves it
charged; a store that cannot record refuses the removal with nothing changed.

Before this, a removal was recorded only by ``save()``: a process killed between
``remove()`` and ``save()`` (or a save whose first write failed) left a shown release that
nothing charged. Each test here fails on that code: no record exists after ``remove()``, a
second writer is not refused, a failed append does not fail the removal.

The "process dies" cases run the estimator in a child process that ends with ``os._exit``
(no cleanup, no save); the full disk is a file-size limit (``RLIMIT_FSIZE``, ``SIGXFSZ``
ignored, so writes fail with ``EFBIG``) set in the child at the release log's length: the
log cannot grow, and neither can the database's write-ahead log, which starts empty.
"""

import json
import os
import pickle
import shutil
import signal
import subprocess
import sys

import numpy as np
import pytest
from test_store import unlearn_binary

import unlearn
from unlearn import CertifiedLogisticRegression

RELEASE_LOG = "releases.jsonl"


def log_lines(store):
    """The release log's lines, parsed."""
    return [json.loads(line) for line in (store / RELEASE_LOG).read_text().splitlines()]


def records_of(store, digest):
    """How many records of ledger entry ``digest`` the log holds."""
    return sum(1 for line in log_lines(store) if line.get("entry") == digest)


def marks(store):
    """The log's failed and abandoned marks."""
    return [line for line in log_lines(store) if "failed" in line or "abandoned" in line]


def run_child(code, *args):
    """Runs ``code`` in a fresh interpreter; its last stdout line, parsed as JSON."""
    done = subprocess.run(
        [sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def verify_cli(store):
    """``unlearn verify --store``: every check passes (the release-log check included)."""
    out = subprocess.run(
        [unlearn_binary(), "verify", "--store", str(store)],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    lines = out.stdout.splitlines()
    assert all(line.startswith("ok") for line in lines), out.stdout
    assert any(line.startswith("ok   release log:") for line in lines), out.stdout


def saved(breast_cancer, tmp_path):
    """A fitted model's store and the model's ids."""
    X, y, ids = breast_cancer
    CertifiedLogisticRegression(C=1.0).fit(X, y, ids=ids).save(tmp_path / "store")
    return tmp_path / "store", ids


def reference(store, tmp_path, *removals):
    """The same removals on a copy of the store, not backed by it: the certificates the
    store-backed estimator must show (the removal is deterministic given the store)."""
    copy = tmp_path / "reference"
    shutil.copytree(store, copy)
    est = CertifiedLogisticRegression.load(copy, record=False)
    return [est.remove(ids) for ids in removals]


def unchanged(est):
    """What a refused removal must leave as it was."""
    return (
        len(est.certificates_),
        len(est._unlearner.certificates()),
        est.n_rows_,
        est.coef_.copy(),
        est._unlearner.weights().copy(),
    )


def assert_unchanged(est, before):
    after = unchanged(est)
    assert after[:3] == before[:3]
    np.testing.assert_array_equal(after[3], before[3])
    np.testing.assert_array_equal(after[4], before[4])


def settle(store, some_id):
    """The next writer settles the log: a removal by an estimator loaded before it opens
    (for writing, at its first removal) finds the store changed by that settlement and is
    refused, naming the store; then a fresh load sees the settled store."""
    stale = CertifiedLogisticRegression.load(store)
    before = unchanged(stale)
    with pytest.raises(unlearn.UnlearnError, match="load") as refused:
        stale.remove(some_id)
    assert str(store) in str(refused.value) and "release log" in str(refused.value)
    assert_unchanged(stale, before)
    del stale
    return CertifiedLogisticRegression.load(store, record=False)


DIES_AFTER_REMOVE = """
import json, os, sys
from unlearn import CertifiedLogisticRegression
est = CertifiedLogisticRegression.load(sys.argv[1])
shown = est.remove(sys.argv[2])
print(json.dumps({"digest": shown.digest}), flush=True)
os._exit(0)
"""


def test_a_release_shown_by_a_process_that_dies_before_saving_is_charged(breast_cancer, tmp_path):
    store, ids = saved(breast_cancer, tmp_path)
    (expected,) = reference(store, tmp_path, [ids[3]])
    shown = run_child(DIES_AFTER_REMOVE, store, ids[3])
    assert shown["digest"] == expected.digest
    assert records_of(store, shown["digest"]) == 1, "recorded before remove() returned"
    assert marks(store) == []

    after = settle(store, ids[10])
    charged = [
        f
        for c in after.certificates_
        if c.kind == "reconciliation"
        for f in c.foreign_releases
        if f["entry"] == shown["digest"]
    ]
    assert len(charged) == 1, "the shown release is charged once"
    assert charged[0]["charge"] == expected.distance
    # The store holds its rows: the acknowledged removal is applied by the settlement.
    assert after.n_rows_ == len(ids) - 1
    with pytest.raises(KeyError, match=ids[3]):
        after.remove(ids[3])
    assert after.certificates_[-1].transcript["releases"] >= expected.transcript["releases"]
    verify_cli(store)


SAVE_ON_A_FULL_DISK = """
import json, os, resource, signal, sys
from unlearn import CertifiedLogisticRegression
store = sys.argv[1]
est = CertifiedLogisticRegression.load(store)
shown = est.remove(sys.argv[2])
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
log = os.path.join(store, "releases.jsonl")
resource.setrlimit(resource.RLIMIT_FSIZE, (os.path.getsize(log), hard))
try:
    est.save(store)
    error = None
except Exception as e:  # OSError or UnlearnError, as the failing write reports it
    error = type(e).__name__
resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
if sys.argv[3:] == ["retry"]:
    est.save(store)
print(json.dumps({"digest": shown.digest, "error": error}), flush=True)
os._exit(0)
"""


def test_a_release_shown_before_a_save_that_fails_on_a_full_disk_is_charged(
    breast_cancer, tmp_path
):
    store, ids = saved(breast_cancer, tmp_path)
    (expected,) = reference(store, tmp_path, [ids[4]])
    child = run_child(SAVE_ON_A_FULL_DISK, store, ids[4])
    assert child["error"] is not None, "the save fails"
    assert child["digest"] == expected.digest
    # Before this change the save's append of the record was its first write, and it
    # failed: nothing named the shown release.
    assert records_of(store, child["digest"]) == 1
    after = settle(store, ids[10])
    charged = [
        f["charge"]
        for c in after.certificates_
        for f in c.foreign_releases
        if f["entry"] == child["digest"]
    ]
    assert charged == [expected.distance]
    verify_cli(store)


RECORD_ON_A_FULL_DISK = """
import json, os, resource, signal, sys
import numpy as np
from unlearn import CertifiedLogisticRegression
store, first, second = sys.argv[1:]
est = CertifiedLogisticRegression.load(store)
shown = [est.remove(first).digest]
before = (len(est.certificates_), len(est._unlearner.certificates()), est.n_rows_)
coef, weights = est.coef_.copy(), est._unlearner.weights().copy()
log = os.path.join(store, "releases.jsonl")
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
resource.setrlimit(resource.RLIMIT_FSIZE, (os.path.getsize(log), hard))
try:
    est.remove(second)
    error = None
except OSError as e:
    error = str(e)
resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
after = (len(est.certificates_), len(est._unlearner.certificates()), est.n_rows_)
same = (
    after == before
    and np.array_equal(coef, est.coef_)
    and np.array_equal(weights, est._unlearner.weights())
)
# The row is back: the same removal succeeds once the disk has room.
shown.append(est.remove(second).digest)
est.save(store)
print(json.dumps({"error": error, "unchanged": same, "shown": shown}), flush=True)
"""


def test_a_removal_whose_record_cannot_be_written_fails_and_changes_nothing(
    breast_cancer, tmp_path
):
    store, ids = saved(breast_cancer, tmp_path)
    child = run_child(RECORD_ON_A_FULL_DISK, store, ids[5], ids[6])
    assert child["error"] is not None, "the removal raises"
    assert str(store) in child["error"] and "rolled back" in child["error"]
    assert child["unchanged"], "the estimator is as it was before the refused removal"
    loaded = CertifiedLogisticRegression.load(store, record=False)
    removals = [c.digest for c in loaded.certificates_ if c.kind == "removal"]
    assert removals == child["shown"], "both removals committed, each once"
    assert all(records_of(store, d) == 1 for d in child["shown"])
    assert marks(store) == []
    assert loaded.n_rows_ == len(ids) - 2
    verify_cli(store)


def saved_once(store, est, shown, expected):
    """Checks that the certificates ``shown`` by the store-backed ``est`` are those of the
    same removals on a copy (``expected``: recording changes nothing of them), each recorded
    once before it was shown; saves ``est`` and checks that they are not recorded again and
    that the store holds its ledger. Returns the store's estimator, loaded without a lock."""
    assert shown == expected, "recording changes nothing of the removals"
    assert [records_of(store, c.digest) for c in shown] == [1] * len(shown), "recorded once"
    est.save(store)
    assert [records_of(store, c.digest) for c in shown] == [1] * len(shown), "charged once"
    assert marks(store) == []
    loaded = CertifiedLogisticRegression.load(store, record=False)
    assert loaded.certificates_ == est.certificates_
    return loaded


def test_a_removal_then_a_save_charges_the_release_exactly_once(breast_cancer, tmp_path):
    store, ids = saved(breast_cancer, tmp_path)
    expected = reference(store, tmp_path, [ids[7]], [ids[8], ids[9]])
    est = CertifiedLogisticRegression.load(store)
    shown = [est.remove(ids[7]), est.remove([ids[8], ids[9]])]
    loaded = saved_once(store, est, shown, expected)
    assert loaded.certificates_[-1].transcript == expected[-1].transcript
    assert loaded.certificates_[-1].budget_used == expected[-1].budget_used
    verify_cli(store)
    # save() let go of the writer lock: another estimator removes (and takes it).
    other = CertifiedLogisticRegression.load(store)
    assert other.remove(ids[11]).published


def cli_remove(store, some_id):
    """``unlearn remove --store`` (which does not wait for the writer lock): its output."""
    done = subprocess.run(
        [unlearn_binary(), "remove", "--store", str(store), "--ids", some_id],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def kinds(store):
    """The kinds of the store's ledger entries, as a reader loads them."""
    return [c.kind for c in CertifiedLogisticRegression.load(store, record=False).certificates_]


def test_close_lets_go_of_the_store_and_a_later_removal_records_again(breast_cancer, tmp_path):
    """``close()`` commits the recorded removals and releases the writer lock: the CLI
    removes at once; the estimator removes again (taking the lock, recording before it
    shows) and saves; every release is recorded and charged exactly once, no entry is
    re-applied as a lost branch, and the certificates are those of the same removals on a
    copy."""
    store, ids = saved(breast_cancer, tmp_path)
    est = CertifiedLogisticRegression.load(store)
    first = est.remove(ids[7])  # takes the writer lock
    with pytest.raises(subprocess.CalledProcessError):
        subprocess.run(
            [unlearn_binary(), "remove", "--store", str(store), "--ids", ids[20]],
            capture_output=True,
            check=True,
        )
    est.close()
    est.close()  # idempotent
    assert records_of(store, first.digest) == 1, "committed, not recorded again"
    cli_remove(store, ids[20])  # the lock is free at once
    assert kinds(store) == ["training", "removal", "removal"], "nothing reconciled"
    # The CLI committed since: this estimator no longer continues the store.
    with pytest.raises(unlearn.UnlearnError, match="does not continue"):
        est.remove(ids[8])

    est = CertifiedLogisticRegression.load(store)
    expected = reference(store, tmp_path, [ids[8]], [ids[9]])
    shown = [est.remove(ids[8])]
    est.close()
    shown.append(est.remove(ids[9]))  # takes the lock again
    saved_once(store, est, shown, expected)
    assert kinds(store) == ["training"] + ["removal"] * 4
    verify_cli(store)


def test_the_with_block_lets_go_of_the_store_on_an_exception(breast_cancer, tmp_path):
    """Leaving a ``with`` block by an exception closes the estimator (the exception
    propagates): the removal it showed is committed once, and another writer gets the lock
    at once."""
    store, ids = saved(breast_cancer, tmp_path)
    (expected,) = reference(store, tmp_path, [ids[5]])
    with pytest.raises(RuntimeError, match="boom"):
        with CertifiedLogisticRegression.load(store) as est:
            shown = est.remove(ids[5])
            raise RuntimeError("boom")
    assert shown == expected
    assert records_of(store, shown.digest) == 1
    with CertifiedLogisticRegression.load(store) as other:
        assert other.remove(ids[6]).published, "the lock was free at once"
    loaded = CertifiedLogisticRegression.load(store, record=False)
    assert loaded.certificates_[1] == shown
    assert kinds(store) == ["training", "removal", "removal"]
    verify_cli(store)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is Unix-only")
def test_a_forked_child_does_not_use_the_parents_writer_handle(breast_cancer, tmp_path):
    """A child forked while the estimator holds its store's writer lock inherits the handle
    but not the lock (an fcntl lock belongs to a process): its removal opens the store
    afresh and is refused while the parent holds the lock, with nothing recorded; the
    child's handle is never closed or used, so the parent then saves through its own."""
    store, ids = saved(breast_cancer, tmp_path)
    est = CertifiedLogisticRegression.load(store)
    shown = est.remove(ids[7])  # takes the lock
    lines = len(log_lines(store))
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report, and leave without cleanup
        signal.alarm(120)  # a child stuck on the parent's handle dies: the test fails, not hangs
        try:
            est.remove(ids[8])
            outcome = "removed without the lock"
        except unlearn.UnlearnError as e:
            outcome = f"refused: {e}"
        except BaseException as e:  # noqa: BLE001 - reported to the parent
            outcome = f"failed: {e!r}"
        os.write(write, outcome.encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        outcome = pipe.read()
    os.waitpid(pid, 0)
    assert outcome.startswith("refused") and "writer lock" in outcome, outcome
    assert len(log_lines(store)) == lines, "the child recorded nothing"
    est.save(store)
    assert records_of(store, shown.digest) == 1
    assert marks(store) == []
    assert kinds(store) == ["training", "removal"]
    verify_cli(store)


def test_a_detached_estimator_removes_once_saved_to_a_store_of_its_own(breast_cancer, tmp_path):
    """review9a: the store that backs an estimator holds the rows, so it can never take the
    removals of the estimator once its rows are detached: ``detach_rows`` is refused while
    removals are unsaved, and afterwards a removal is refused (nothing recorded, nothing
    changed) until the estimator is saved to a store of its own, where it records them."""
    X, y, ids = breast_cancer
    store = tmp_path / "store"
    CertifiedLogisticRegression(C=1.0, budget=2.0).fit(X, y, ids=ids).save(store)
    est = CertifiedLogisticRegression.load(store)
    est.remove(ids[3])
    with pytest.raises(unlearn.UnlearnError, match="not saved"):
        est.detach_rows()
    assert not est._unlearner.external()
    est.close()
    est.detach_rows()
    lines, before = len(log_lines(store)), unchanged(est)
    with pytest.raises(unlearn.UnlearnError, match="detach_rows") as refused:
        est.remove([ids[21]], X=X[[21]], y=y[[21]])
    assert str(store) in str(refused.value)
    assert_unchanged(est, before)
    assert len(log_lines(store)) == lines, "nothing recorded"
    own = tmp_path / "own"
    est.save(own)
    shown = est.remove([ids[21]], X=X[[21]], y=y[[21]])
    assert records_of(own, shown.digest) == 1 and records_of(store, shown.digest) == 0
    est.close()
    verify_cli(store)
    verify_cli(own)


def test_a_store_locked_by_another_writer_refuses_the_removal(breast_cancer, tmp_path):
    store, ids = saved(breast_cancer, tmp_path)
    first = CertifiedLogisticRegression.load(store)
    second = CertifiedLogisticRegression.load(store)
    first.remove(ids[12])  # takes the writer lock until it saves
    lines = len(log_lines(store))
    before = unchanged(second)
    with pytest.raises(unlearn.UnlearnError, match="writer lock") as refused:
        second.remove(ids[13])
    assert str(store) in str(refused.value) and "nothing was shown" in str(refused.value)
    assert_unchanged(second, before)
    assert len(log_lines(store)) == lines, "nothing recorded"
    # Nor can the second commit first (which would make the first's save a diverged one).
    with pytest.raises(unlearn.UnlearnError, match="in use by another unlearn process"):
        second.save(store)
    # The holder saves; the second estimator predates that commit: refused, unchanged.
    first.save(store)
    lines = len(log_lines(store))
    with pytest.raises(unlearn.UnlearnError, match="does not continue") as diverged:
        second.remove(ids[13])
    assert str(store) in str(diverged.value)
    assert_unchanged(second, before)
    assert len(log_lines(store)) == lines, "nothing recorded"
    assert CertifiedLogisticRegression.load(store).remove(ids[13]).published


def test_what_backs_an_estimator(breast_cancer, tmp_path):
    """A fitted estimator records nothing until saved; saving backs it by that store; a
    pickle's store is a copy that does not take over; ``record=False`` never writes."""
    X, y, ids = breast_cancer
    est = CertifiedLogisticRegression(C=1.0).fit(X, y, ids=ids)
    est.remove(ids[0])  # no store: charged in its own ledger only
    store = tmp_path / "store"
    est.save(store)
    assert records_of(store, est.remove(ids[1]).digest) == 1, "backed once saved"
    with unlearn.pickle_through_store(tmp_path / "pickles") as directory:
        blob = pickle.dumps(est)
    (copy,) = directory.iterdir()
    shown = est.remove(ids[2])
    assert records_of(store, shown.digest) == 1 and records_of(copy, shown.digest) == 0
    est.save(store)
    unpickled = pickle.loads(blob)
    assert records_of(copy, unpickled.remove(ids[3]).digest) == 1
    lines = len(log_lines(store))
    experiment = CertifiedLogisticRegression.load(store, record=False)
    experiment.remove(ids[4])
    assert len(log_lines(store)) == lines
    # It took no lock: a store-backed estimator removes meanwhile.
    assert CertifiedLogisticRegression.load(store).remove(ids[4]).published


def test_an_external_rows_removal_is_recorded_before_it_returns(breast_cancer, tmp_path):
    """Given rows (X=, y=) take the same path: recorded before the certificate returns."""
    X, y, ids = breast_cancer
    est = CertifiedLogisticRegression(C=1.0, budget=2.0).fit(X, y, ids=ids).detach_rows()
    store = tmp_path / "store"
    est.save(store)
    rows = [21, 22]
    shown = est.remove([ids[i] for i in rows], X=X[rows], y=y[rows])
    assert records_of(store, shown.digest) == 1
    est.save(store)
    assert records_of(store, shown.digest) == 1 and marks(store) == []
    verify_cli(store)


def test_a_save_that_failed_on_a_full_disk_commits_each_removal_once_when_retried(
    breast_cancer, tmp_path
):
    """Review 10, finding 4: the estimator keeps its store's writer handle after a failed
    ``save()``, so the retry commits through it: the removal is committed once, its release
    recorded and charged once, and nothing is reconciled. Before, the failed save dropped
    the handle, the retry's opening re-applied the removal as a second release (the store
    holds its rows) and the retry was refused as diverged ("already applied")."""
    store, ids = saved(breast_cancer, tmp_path)
    (expected,) = reference(store, tmp_path, [ids[4]])
    child = run_child(SAVE_ON_A_FULL_DISK, store, ids[4], "retry")
    assert child["error"] is not None, "the first save fails"
    assert child["digest"] == expected.digest
    loaded = CertifiedLogisticRegression.load(store, record=False)
    assert [c.kind for c in loaded.certificates_] == ["training", "removal"]
    assert loaded.certificates_[-1].digest == expected.digest
    assert loaded.certificates_[-1].transcript == expected.transcript, "charged once"
    assert loaded.n_rows_ == len(ids) - 1
    assert records_of(store, expected.digest) == 1 and marks(store) == []
    verify_cli(store)
