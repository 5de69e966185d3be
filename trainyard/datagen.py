"""Seeded generators for the HR future-skills table and the Cell2Cell-style churn table."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from trainyard.datasets import get_spec

JOB_ROLES: dict[str, str] = {
    "Data Scientist": "Data", "Data Engineer": "Data", "ML Engineer": "Data",
    "Backend Developer": "Engineering", "Frontend Developer": "Engineering",
    "DevOps Engineer": "Engineering", "Security Analyst": "Engineering",
    "QA Engineer": "Engineering", "Product Manager": "Product", "UX Designer": "Product",
    "Business Analyst": "Business", "Financial Analyst": "Finance", "Accountant": "Finance",
    "HR Specialist": "Human Resources", "Recruiter": "Human Resources",
    "Sales Manager": "Sales", "Customer Success Manager": "Sales",
}  # fmt: skip
SKILLS: dict[str, str] = {
    "Python": "Technical", "SQL": "Technical", "Cloud Computing": "Technical",
    "Machine Learning": "Technical", "Cybersecurity": "Technical", "Kubernetes": "Technical",
    "Data Visualization": "Data", "Statistics": "Data", "Data Governance": "Data",
    "Generative AI": "Emerging", "Prompt Engineering": "Emerging", "Automation": "Emerging",
    "Communication": "Soft", "Leadership": "Soft", "Critical Thinking": "Soft",
    "Adaptability": "Soft", "Negotiation": "Business", "Project Management": "Business",
    "Financial Modeling": "Business", "Change Management": "Business", "Excel": "Business",
}  # fmt: skip


def future_skills(seed: int = 42, noisy: bool = False) -> pd.DataFrame:
    """One row per (job role, skill): 17 x 21 = 357 rows with a LOW/MEDIUM/HIGH need label.

    ``noisy`` adds a LOW region and flips 8% of the labels so the task is not trivial.
    """
    rng = np.random.default_rng(seed)
    roles, skills = list(JOB_ROLES), list(SKILLS)
    role_idx, skill_idx = (a.ravel() for a in np.meshgrid(range(len(roles)), range(len(skills)), indexing="ij"))
    n = role_idx.size
    skill_heat = rng.uniform(0.2, 0.9, len(skills))[skill_idx]
    role_tech = rng.uniform(0.3, 1.0, len(roles))[role_idx]
    trend = np.clip(skill_heat + rng.normal(0, 0.08, n), 0, 1)
    usage = np.clip(0.5 * role_tech + 0.4 * skill_heat + rng.normal(0, 0.1, n), 0, 1)
    scarcity = np.clip(0.6 * skill_heat + rng.normal(0.2, 0.12, n), 0, 1)
    hiring = np.clip(0.5 * scarcity + 0.3 * role_tech + rng.normal(0.1, 0.1, n), 0, 1)
    requests = rng.poisson(5 + 30 * trend * usage)
    salary = np.round(35 + 90 * role_tech + 25 * scarcity + rng.normal(0, 6, n), 1)
    economy = np.round(rng.uniform(0.8, 1.2, n), 3)
    score = 0.4 * trend + 0.25 * scarcity + 0.2 * hiring + 0.15 * usage
    if noisy:
        level = np.digitize(score, np.quantile(score, [0.3, 0.65]))
        flip = rng.random(n) < 0.08
        level[flip] = rng.integers(0, 3, flip.sum())
    else:
        level = np.where(score >= np.quantile(score, 0.62), 2, 1)
    return pd.DataFrame(
        {
            "job_role_name": np.array(roles)[role_idx],
            "skill_name": np.array(skills)[skill_idx],
            "skill_category": np.array([SKILLS[s] for s in skills])[skill_idx],
            "job_department": np.array([JOB_ROLES[r] for r in roles])[role_idx],
            "trend_score": trend.round(4),
            "internal_usage": usage.round(4),
            "training_requests": requests,
            "scarcity_index": scarcity.round(4),
            "hiring_difficulty": hiring.round(4),
            "avg_salary_k": salary,
            "economic_indicator": economy,
            "future_need_level": np.array(get_spec("future_skills").target_values)[level],
        },
        columns=get_spec("future_skills").all_columns,
    )


def churn(rows: int = 3000, seed: int = 42, missing_fraction: float = 0.08) -> pd.DataFrame:
    """A Cell2Cell-shaped churn table: usage columns, 0/1 flags, ~29% churners, some NaNs."""
    table = get_spec("churn")
    rng = np.random.default_rng(seed)
    cols: dict[str, np.ndarray] = {"customer": np.arange(1_000_001, 1_000_001 + rows)}
    usage = rng.lognormal(0, 0.6, rows)  # one latent "heaviness" drives correlated usage columns
    scale = {"revenue": 58, "mou": 525, "recchrge": 46, "directas": 0.9, "overage": 40, "roam": 1.2,
             "dropvce": 6, "blckvce": 4, "unansvce": 28, "custcare": 1.9, "threeway": 0.3,
             "mourec": 115, "outcalls": 25, "incalls": 8, "peakvce": 90, "opeakvce": 68,
             "dropblk": 10, "callfwdv": 0.01, "callwait": 1.8, "setprc": 35}  # fmt: skip
    for spec in table.numeric:
        if spec.name in scale:
            noise = rng.gamma(2.0, 0.5, rows)
            cols[spec.name] = np.round(scale[spec.name] * usage * noise, 2).astype(np.float32)
    cols["changem"] = np.round(rng.normal(-10, 250, rows), 2).astype(np.float32)
    cols["changer"] = np.round(rng.normal(-1, 35, rows), 2).astype(np.float32)
    ints = {"months": rng.integers(6, 61, rows), "uniqsubs": 1 + rng.poisson(0.5, rows),
            "phones": 1 + rng.poisson(0.8, rows), "models": 1 + rng.poisson(0.5, rows),
            "eqpdays": rng.integers(-5, 1800, rows), "age1": rng.integers(0, 99, rows),
            "age2": rng.integers(0, 99, rows), "retcalls": rng.poisson(0.05, rows),
            "retaccpt": rng.poisson(0.02, rows), "refer": rng.poisson(0.05, rows),
            "income": rng.integers(0, 10, rows)}  # fmt: skip
    ints["actvsubs"] = np.minimum(ints["uniqsubs"], 1 + rng.poisson(0.3, rows))
    cols.update({k: v.astype(np.int32) for k, v in ints.items()})
    flag_rates = rng.uniform(0.02, 0.6, len(table.flags))
    for name, rate in zip(table.flags, flag_rates, strict=True):
        cols[name] = (rng.random(rows) < rate).astype(np.int8)
    cols["retcall"] = (ints["retcalls"] > 0).astype(np.int8)

    logit = (
        -0.0025 * cols["changem"] + 0.0011 * ints["eqpdays"] + 0.9 * ints["retcalls"]
        - 0.025 * ints["months"] + 0.08 * cols["custcare"] + 0.45 * cols["refurb"]
        - 0.35 * cols["webcap"] + 0.004 * cols["overage"] + rng.normal(0, 0.8, rows)
    )  # fmt: skip
    prob = _calibrated_probability(logit, target_rate=0.29)
    cols["churn"] = (rng.random(rows) < prob).astype(np.int8)

    for spec in table.numeric:  # heavy tails must stay inside the schema at any table size
        cols[spec.name] = np.clip(cols[spec.name], spec.min, spec.max).astype(cols[spec.name].dtype)
    frame = pd.DataFrame(cols, columns=table.all_columns)
    missing = rng.random(rows) < missing_fraction
    frame.loc[missing, ["revenue", "mou", "changem", "changer"]] = np.nan
    return frame


def _calibrated_probability(logit: np.ndarray, target_rate: float) -> np.ndarray:
    """Shift ``logit`` by bisection so that the mean churn probability equals ``target_rate``."""
    low, high = float(logit.min()) - 10, float(logit.max()) + 10
    for _ in range(60):
        mid = (low + high) / 2
        if (1 / (1 + np.exp(-(logit - mid) * 1.5))).mean() > target_rate:
            low = mid
        else:
            high = mid
    return 1 / (1 + np.exp(-(logit - low) * 1.5))


def write_table(frame: pd.DataFrame, path: Path) -> Path:
    """Write ``frame`` as CSV or Parquet, chosen by the file suffix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".parquet":
        frame.to_parquet(path, index=False)
    elif path.suffix == ".csv":
        frame.to_csv(path, index=False)
    else:
        raise ValueError(f"unsupported suffix {path.suffix!r}: use .csv or .parquet")
    return path
