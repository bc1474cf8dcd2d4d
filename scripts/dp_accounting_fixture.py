#!/usr/bin/env python3
"""Write tests/fixtures/accounting/zcdp.json from dp-accounting's epsilons.

dp-accounting's epsilon for the Gaussian mechanism at several noise multipliers z
(rho = 1/(2 z^2)) and deltas, for the cross-check
in tests/discrete_gaussian.rs (`zcdp_conversion_matches_dp_accounting`).

Installs nothing. Run it in an environment with dp-accounting from PyPI:

    python3 -m venv /tmp/dpvenv && /tmp/dpvenv/bin/pip install dp-accounting
    /tmp/dpvenv/bin/python scripts/dp_accounting_fixture.py

dp-accounting's RdpAccountant charges a GaussianDpEvent with noise multiplier z the Renyi
divergence alpha/(2 z^2) at each of its default orders and converts with
compute_epsilon (Canonne, Kamath, Steinke 2020, Prop. 12), minimising over that grid of
orders only. The file records the grid, the optimal order and the closed form
rho + 2 sqrt(rho ln(1/delta)) as well.
"""

import importlib.metadata
import json
import math
import os

import dp_accounting
from dp_accounting.rdp import rdp_privacy_accountant as rdp

NOISE_MULTIPLIERS = [0.3, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0]
DELTAS = [1e-3, 1e-5, 1e-9]


def main():
    """Compute dp-accounting's epsilon for every case and write the fixture."""
    cases = []
    for z in NOISE_MULTIPLIERS:
        for delta in DELTAS:
            accountant = rdp.RdpAccountant()
            accountant.compose(dp_accounting.GaussianDpEvent(z))
            eps, order = accountant.get_epsilon_and_optimal_order(delta)
            rho = 1.0 / (2.0 * z * z)
            cases.append(
                {
                    "noise_multiplier": z,
                    "rho": rho,
                    "delta": delta,
                    "epsilon": eps,
                    "optimal_order": float(order),
                    "closed_form": rho + 2.0 * math.sqrt(rho * math.log(1.0 / delta)),
                }
            )
    out = {
        "generator": "scripts/dp_accounting_fixture.py",
        "dp_accounting_version": importlib.metadata.version("dp-accounting"),
        "orders": [float(a) for a in rdp.DEFAULT_RDP_ORDERS],
        "cases": cases,
    }
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    path = os.path.join(root, "tests", "fixtures", "accounting", "zcdp.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
