"""Reference values for `tests/reference.rs`, produced by statsmodels and scipy.

Run from the repository root, in a virtual environment outside the repository:

    python3 -m venv /tmp/refvenv
    /tmp/refvenv/bin/pip install statsmodels scipy numpy pandas
    /tmp/refvenv/bin/python crates/analytics/tests/reference/generate.py

It writes `regression.json` and `correlation.json` next to this file. Each
case holds its inputs (seeded synthetic data, generated here) and the values
the reference implementation gives for them, so the Rust test needs no
Python. The versions used are recorded in each file's "produced_by".
"""

import datetime as dt
import json
import math
import pathlib
import platform

import numpy as np
import pandas as pd
import scipy
import scipy.stats
import statsmodels
import statsmodels.api as sm
import statsmodels.stats.sandwich_covariance as sw

HERE = pathlib.Path(__file__).resolve().parent
FIRST_DAY = dt.date(2024, 3, 1)


def produced_by(what):
    return {
        "what": what,
        "command": "python crates/analytics/tests/reference/generate.py",
        "python": platform.python_version(),
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "scipy": scipy.__version__,
        "statsmodels": statsmodels.__version__,
    }


def newey_west_lags(n):
    # Newey and West (1994); statsmodels' S_hac_simple uses the same rule
    # when nlags is None.
    return int(math.floor(4 * (n / 100.0) ** (2.0 / 9.0)))


def estimates(res):
    """statsmodels' defaults for a robust cov_type: normal distribution."""
    ci = res.conf_int(alpha=0.05)
    return {
        "params": res.params.tolist(),
        "bse": res.bse.tolist(),
        "ci_low": ci[:, 0].tolist(),
        "ci_high": ci[:, 1].tolist(),
        "pvalues": res.pvalues.tolist(),
        "use_t": bool(res.use_t),
    }


def ar1(rng, n, phi, sigma):
    e = rng.normal(scale=sigma, size=n)
    u = np.empty(n)
    u[0] = e[0] / math.sqrt(1 - phi * phi)
    for i in range(1, n):
        u[i] = phi * u[i - 1] + e[i]
    return u


def hac_fit(x, y, lags):
    res = sm.OLS(y, x).fit(cov_type="HAC", cov_kwds={"maxlags": lags})
    assert res.cov_kwds["use_correction"] is False
    return res


def cluster_fit(x, y, groups):
    res = sm.OLS(y, x).fit(cov_type="cluster", cov_kwds={"groups": groups})
    assert res.cov_kwds["use_correction"] is True
    return res


def ols_hac_cases():
    cases = []
    for name, seed, n, lags in [
        ("hac_given_lag_5", 11, 150, 5),
        ("hac_default_lag_rule", 12, 150, None),
        ("hac_lag_0_is_white_hc0", 13, 40, 0),
        ("hac_lag_longer_than_series", 14, 12, 15),
    ]:
        rng = np.random.default_rng(seed)
        x = np.column_stack(
            [np.ones(n), rng.normal(size=n), rng.uniform(0, 10, size=n)]
        )
        y = x @ np.array([0.5, -1.2, 0.3]) + ar1(rng, n, 0.6, 0.8)
        used = newey_west_lags(n) if lags is None else lags
        res = hac_fit(x, y, used)
        if lags is None:
            # The default rule in statsmodels' own kernel gives the same matrix.
            own = sw.cov_hac_simple(res, nlags=None, use_correction=False)
            assert np.allclose(own, res.cov_params(), rtol=0, atol=1e-15)
        cases.append(
            {
                "name": name,
                "x": x.tolist(),
                "y": y.tolist(),
                "maxlags": lags,
                "maxlags_used": used,
                "expected": estimates(res),
            }
        )
    return cases


def ols_cluster_cases():
    cases = []
    for name, seed, n, n_groups in [
        ("cluster_uneven_groups", 21, 120, 9),
        ("cluster_two_groups", 22, 30, 2),
    ]:
        rng = np.random.default_rng(seed)
        groups = rng.integers(0, n_groups, size=n)
        groups[:n_groups] = np.arange(n_groups)  # every group present
        effect = rng.normal(scale=1.0, size=n_groups)[groups]
        x = np.column_stack(
            [np.ones(n), rng.normal(size=n), (rng.uniform(size=n) < 0.4) * 1.0]
        )
        y = x @ np.array([2.0, 0.7, -0.4]) + effect + rng.normal(scale=0.5, size=n)
        res = cluster_fit(x, y, groups)
        cases.append(
            {
                "name": name,
                "x": x.tolist(),
                "y": y.tolist(),
                "groups": groups.tolist(),
                "expected": estimates(res),
            }
        )
    return cases


def its_design(days, start):
    t = np.array([(d - days[0]).days for d in days], dtype=float)
    t0 = float((start - days[0]).days)
    post = np.array([d >= start for d in days], dtype=float)
    return np.column_stack([np.ones(len(days)), t, post, (t - t0) * post])


def its_cases():
    cases = []
    for name, seed, n, before, missing, lags in [
        ("its_default_lag_rule", 31, 56, 28, [], None),
        ("its_lag_7_with_missing_days", 32, 84, 40, [5, 17, 50, 51], 7),
        ("its_lag_1_short", 33, 10, 5, [], 1),
    ]:
        rng = np.random.default_rng(seed)
        days = [FIRST_DAY + dt.timedelta(days=i) for i in range(n) if i not in missing]
        start = FIRST_DAY + dt.timedelta(days=before)
        x = its_design(days, start)
        y = x @ np.array([0.45, 0.002, -0.08, 0.001]) + ar1(rng, len(days), 0.5, 0.03)
        used = newey_west_lags(len(days)) if lags is None else lags
        res = hac_fit(x, y, used)
        cases.append(
            {
                "name": name,
                "days": [d.isoformat() for d in days],
                "values": y.tolist(),
                "start": start.isoformat(),
                "hac_lags": lags,
                "hac_lags_used": used,
                "fitted": res.fittedvalues.tolist(),
                "expected": estimates(res),
            }
        )
    return cases


def did_cases():
    cases = []
    for name, seed, units, treated, n_days, before, drop in [
        ("did_balanced", 41, 12, [0, 3, 7], 40, 20, 0.0),
        ("did_unbalanced", 42, 15, [2, 9], 56, 28, 0.2),
    ]:
        rng = np.random.default_rng(seed)
        start = FIRST_DAY + dt.timedelta(days=before)
        unit_level = rng.normal(0.5, 0.1, size=units)
        rows = []
        for u in range(units):
            for i in range(n_days):
                if rng.uniform() < drop:
                    continue
                day = FIRST_DAY + dt.timedelta(days=i)
                post = day >= start
                effect = -0.05 if (u in treated and post) else 0.0
                value = unit_level[u] + 0.01 * post + effect + rng.normal(scale=0.04)
                rows.append((u, day, value))
        unit = np.array([r[0] for r in rows])
        tr = np.isin(unit, treated) * 1.0
        post = np.array([r[1] >= start for r in rows]) * 1.0
        x = np.column_stack([np.ones(len(rows)), tr, post, tr * post])
        y = np.array([r[2] for r in rows])
        res = cluster_fit(x, y, unit)
        frame = pd.DataFrame({"unit": unit, "day": [r[1] for r in rows], "y": y})
        frame["treated"] = np.isin(frame["unit"], treated)
        means = frame.groupby(["treated", "day"])["y"].mean()
        cases.append(
            {
                "name": name,
                "panel": [
                    {"unit": int(u), "day": d.isoformat(), "value": v} for u, d, v in rows
                ],
                "treated": treated,
                "start": start.isoformat(),
                "expected": estimates(res),
                "treated_daily_means": [
                    {"day": d.isoformat(), "value": v} for d, v in means[True].items()
                ],
                "comparison_daily_means": [
                    {"day": d.isoformat(), "value": v} for d, v in means[False].items()
                ],
            }
        )
    return cases


def corr(kind, x, y):
    f = scipy.stats.pearsonr if kind == "pearson" else scipy.stats.spearmanr
    res = f(x, y)
    return {"coefficient": float(res.statistic), "p_value": float(res.pvalue)}


def correlation_cases():
    cases = []
    specs = [
        ("moderate_n30", 51, 30, 0.5, None),
        ("strong_n200_tiny_p", 52, 200, 0.9, None),
        ("weak_n10", 53, 10, 0.1, None),
        ("negative_n50", 54, 50, -0.6, None),
        ("minimal_n3", 55, 3, 0.5, None),
        ("ties_rounded_to_integers_n25", 56, 25, 0.6, 0),
        ("many_ties_n100", 57, 100, 0.4, "coarse"),
        ("ties_strong_n300_tiny_p", 58, 300, 0.95, 1),
    ]
    for name, seed, n, rho, rounding in specs:
        rng = np.random.default_rng(seed)
        x = rng.normal(size=n)
        y = rho * x + math.sqrt(1 - rho * rho) * rng.normal(size=n)
        if rounding == "coarse":
            x = np.floor(x * 1.5)
            y = np.floor(y * 1.5)
        elif rounding is not None:
            x = np.round(x * 3, rounding)
            y = np.round(y * 3, rounding)
        cases.append(
            {
                "name": name,
                "x": x.tolist(),
                "y": y.tolist(),
                "pearson": corr("pearson", x, y),
                "spearman": corr("spearman", x, y),
            }
        )
    return cases


METRICS = ["degree_centrality", "betweenness_centrality", "clustering_coeff", "burnout_score"]


def panel_case():
    """A small employee-day panel: missing days, a NaN, a lead-lag relation."""
    rng = np.random.default_rng(61)
    rows = []
    for u in range(6):
        burnout = 0.4 + 0.05 * u
        for i in range(30):
            if rng.uniform() < 0.15:
                continue
            day = FIRST_DAY + dt.timedelta(days=i)
            degree = rng.uniform(0, 1)
            betweenness = rng.uniform(0, 0.2)
            clustering = 0.5 + 0.3 * rng.normal()
            burnout = 0.7 * burnout + 0.3 * (1 - degree) + 0.05 * rng.normal()
            rows.append([u, day, degree, betweenness, clustering, burnout])
    rows[7][4] = float("nan")  # a clustering coefficient that is not finite
    frame = pd.DataFrame(rows, columns=["unit", "day"] + METRICS)

    # A row with any value that is not finite is left out of every pair.
    complete = frame.dropna()
    pairs = []
    for i in range(4):
        for j in range(i + 1, 4):
            both = complete[[METRICS[i], METRICS[j]]]
            x, y = both[METRICS[i]].to_numpy(), both[METRICS[j]].to_numpy()
            pairs.append(
                {
                    "x": METRICS[i],
                    "y": METRICS[j],
                    "n": len(both),
                    "pearson": corr("pearson", x, y),
                    "spearman": corr("spearman", x, y),
                }
            )

    max_lag = 3
    lagged = []
    later = frame[["unit", "day", "burnout_score"]].rename(
        columns={"burnout_score": "burnout_later"}
    )
    for metric in METRICS[:3]:
        for k in range(max_lag + 1):
            left = frame[["unit", "day", metric]].copy()
            left["day"] = left["day"] + dt.timedelta(days=k)
            both = left.merge(later, on=["unit", "day"]).dropna()
            x, y = both[metric].to_numpy(), both["burnout_later"].to_numpy()
            lagged.append(
                {"metric": metric, "lag_days": k, "n": len(both), **corr("pearson", x, y)}
            )

    return {
        "panel": [
            {
                "unit": r[0],
                "day": r[1].isoformat(),
                # JSON has no NaN: a non-finite value is written as null.
                "values": [None if math.isnan(v) else v for v in r[2:]],
            }
            for r in rows
        ],
        "max_lag": max_lag,
        "pairs": pairs,
        "lagged": lagged,
    }


def write(name, content):
    path = HERE / name
    path.write_text(json.dumps(content, indent=1, allow_nan=False) + "\n")
    print("wrote", path)


def main():
    write(
        "regression.json",
        {
            "produced_by": produced_by(
                "statsmodels OLS(y, X).fit(cov_type='HAC', cov_kwds={'maxlags': L}) "
                "and fit(cov_type='cluster', cov_kwds={'groups': g}), defaults otherwise"
            ),
            "ols_hac": ols_hac_cases(),
            "ols_cluster": ols_cluster_cases(),
            "its": its_cases(),
            "did": did_cases(),
        },
    )
    write(
        "correlation.json",
        {
            "produced_by": produced_by(
                "scipy.stats.pearsonr and scipy.stats.spearmanr, defaults; the panel "
                "with pandas (rows with a NaN left out, merge on unit and day + k)"
            ),
            "pairs": correlation_cases(),
            "panel": panel_case(),
        },
    )


if __name__ == "__main__":
    main()
