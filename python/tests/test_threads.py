"""The GIL is released while the core trains and removes.

A worker thread fits (then removes) while the main thread keeps a Python loop running and
records the longest pause between its iterations. If the core held the GIL, the loop
would stall for the whole of the Rust call (nearly the whole fit); released, the loop only
waits for Python's switch interval (5 ms) and the operating system's scheduling. The
assertion is that no pause reaches half of the call's duration, with the call made long
enough (about a second or more) that scheduling noise cannot reach it.
"""

import sys
import threading
import time

import numpy as np

from unlearn import CertifiedLogisticRegression


def longest_pause_during(work):
    done = threading.Event()
    result = {}

    def run():
        start = time.perf_counter()
        work()
        result["duration"] = time.perf_counter() - start
        done.set()

    worker = threading.Thread(target=run)
    longest, last = 0.0, time.perf_counter()
    worker.start()
    while not done.is_set():
        now = time.perf_counter()
        longest, last = max(longest, now - last), now
    worker.join()
    return longest, result["duration"]


def test_fit_and_remove_release_the_gil():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(12000, 300)) / np.sqrt(300)
    y = np.where(X @ rng.normal(size=300) + 0.1 * rng.normal(size=12000) > 0, 1, 0)
    ids = [str(i) for i in range(12000)]
    est = CertifiedLogisticRegression(C=1.0, sigma=0)
    pause, duration = longest_pause_during(lambda: est.fit(X, y, ids=ids))
    # Holding the GIL shows as a pause as long as the call; releasing it, as pauses of about
    # the interpreter's switch interval (5 ms). The call must last many of them for
    # "pause < duration / 2" to tell the two apart.
    assert duration > 20 * sys.getswitchinterval(), (
        "the fit is too short for the test to mean something"
    )
    assert pause < duration / 2, (pause, duration)
    # The first removal takes an exact Newton step (it forms the 301 x 301 Hessian).
    pause, duration = longest_pause_during(lambda: est.remove(ids[:400]))
    assert duration > 10 * sys.getswitchinterval(), (
        "the removal is too short for the test to mean something"
    )
    assert pause < duration / 2, (pause, duration)
