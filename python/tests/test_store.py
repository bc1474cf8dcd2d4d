"""The store: save/load, the same bits as the CLI, and pickling without secrets."""

import json
import os
import pickle
import pickletools
import shutil
import stat
import subprocess
from pathlib import Path

import numpy as np
import pytest

import unlearn
from unlearn import CertifiedLogisticRegression, CertifiedRidge

REPO = Path(__file__).resolve().parents[2]


def unlearn_binary():
    path = Path(os.environ.get("UNLEARN_BIN", REPO / "target" / "release" / "unlearn"))
    if not path.exists():
        pytest.fail(f"{path} not found: build it with `cargo build --release` (scripts/test does)")
    return str(path)


def test_save_and_load_round_trip(digits, tmp_path):
    X, y, ids = digits
    est = CertifiedLogisticRegression(C=2.0, clip_norm=1.0).fit(X, y, ids=ids)
    est.remove(ids[:2])
    est.save(tmp_path / "store")
    store = tmp_path / "store"
    assert stat.S_IMODE(store.stat().st_mode) == 0o700
    assert stat.S_IMODE((store / "unlearn.db").stat().st_mode) == 0o600
    loaded = CertifiedLogisticRegression.load(tmp_path / "store")
    assert loaded.get_params() == {**est.get_params(), "sigma": None}
    np.testing.assert_array_equal(loaded.coef_, est.coef_)
    np.testing.assert_array_equal(loaded.classes_, est.classes_)
    np.testing.assert_array_equal(loaded.predict(X), est.predict(X))
    assert loaded.certificates_ == est.certificates_
    assert loaded.remove(ids[2]).certified
    with pytest.raises(ValueError, match="CertifiedLogisticRegression"):
        CertifiedRidge.load(tmp_path / "store")


def test_python_and_cli_removals_give_the_same_bits(breast_cancer, tmp_path):
    X, y, ids = breast_cancer
    CertifiedLogisticRegression(C=1.0).fit(X, y, ids=ids).save(tmp_path / "py")
    shutil.copytree(tmp_path / "py", tmp_path / "cli")
    removed = [ids[4], ids[9], ids[100]]
    est = CertifiedLogisticRegression.load(tmp_path / "py")
    est.remove(removed)
    est.save(tmp_path / "py")
    subprocess.run(
        [unlearn_binary(), "remove", "--store", str(tmp_path / "cli"), "--ids", ",".join(removed)],
        check=True,
        capture_output=True,
    )
    # The published model byte for byte, and the ledger entry for entry (each entry's
    # digest covers its fields and chains the one before, so equal entries are equal bits).
    assert (tmp_path / "py" / "model.json").read_bytes() == (
        tmp_path / "cli" / "model.json"
    ).read_bytes()
    from_cli = CertifiedLogisticRegression.load(tmp_path / "cli")
    assert from_cli.certificates_ == est.certificates_
    assert from_cli.certificates_[-1].kind == "removal"
    np.testing.assert_array_equal(from_cli.coef_, est.coef_)
    published = json.loads((tmp_path / "py" / "model.json").read_text())
    assert published["weights"][0] == list(np.append(est.coef_[0], est.intercept_))


def test_cli_reads_a_python_store_and_python_reads_a_cli_store(tmp_path):
    subprocess.run(
        [
            unlearn_binary(),
            "train",
            "--data",
            "builtin:diabetes",
            "--loss",
            "squared",
            "--preprocess",
            "recommended",
            "--lambda",
            "1",
            "--sigma",
            "0",
            "--out",
            str(tmp_path / "cli"),
        ],
        check=True,
        capture_output=True,
    )
    est = CertifiedRidge.load(tmp_path / "cli")
    assert est.alpha == 1.0 and est.sigma == 0.0
    X, y, ids = unlearn.datasets.load_diabetes(return_X_y=True)
    assert est.n_features_in_ == X.shape[1]
    assert est.verify().passed
    est.remove([ids[0]])
    est.save(tmp_path / "cli")
    out = subprocess.run(
        [unlearn_binary(), "verify", "--store", str(tmp_path / "cli")],
        check=True,
        capture_output=True,
        text=True,
    )
    assert all(line.startswith("ok") for line in out.stdout.splitlines())


def test_default_pickle_refuses_a_fitted_estimator(breast_cancer):
    X, y, ids = breast_cancer
    est = CertifiedLogisticRegression().fit(X, y, ids=ids)
    with pytest.raises(pickle.PicklingError, match="save"):
        pickle.dumps(est)
    unfitted = pickle.loads(pickle.dumps(CertifiedLogisticRegression(C=3.0)))
    assert unfitted.C == 3.0
    assert "b000" not in repr(est) and "_unlearner" not in est.get_params()


def test_pickle_through_the_store_keeps_secrets_out_of_the_pickle(breast_cancer, tmp_path):
    X, y, ids = breast_cancer
    est = CertifiedLogisticRegression().fit(X, y, ids=ids)
    coef = est.coef_.copy()
    with unlearn.pickle_through_store(tmp_path) as directory:
        blob = pickle.dumps(est)
    for marker in [X[0].tobytes(), X[1].tobytes()]:
        assert marker not in blob
    # No id is pickled as a string (ids such as "b017" are hex-like, so a byte search would
    # also find them inside the store path's random hex name).
    strings = {arg for _, arg, _ in pickletools.genops(blob) if isinstance(arg, str)}
    assert not strings & set(ids)
    stores = list(directory.iterdir())
    assert len(stores) == 1 and str(stores[0]).encode() in blob
    assert est.remove(ids[3]).certified, "pickling leaves the estimator as it was"
    again = pickle.loads(blob)
    np.testing.assert_array_equal(again.coef_, coef)
    assert again.remove(ids[17]).certified
