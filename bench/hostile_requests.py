"""Hostile requests: bodies too large to read, and password guessing, against the API as it runs.

    .venv/bin/python bench/hostile_requests.py --repeats 3 --guesses 1000 --names 100000 --patient-seconds 60
    .venv/bin/python bench/hostile_requests.py --repeats 1 --scale 0.2 --guesses 60 --names 1000 \
        --patient-seconds 3   # smoke (CI)

Bodies: the API with its 1 MiB limit beside the same API with TRAINYARD_MAX_REQUEST_BYTES at 1 GiB, which
is how every request was read before the limit (error bodies are bounded in both).

Logins: the API under uvicorn with two worker processes and the default throttle, beside the same API
with limits no flood reaches ("unthrottled", how every login was answered before). Client addresses are
sent as X-Forwarded-For, which uvicorn takes from its trusted proxy (loopback); no traffic leaves loopback.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import isolated_stack, median, percentile, table

# Documentation addresses, in a header only. The unthrottled API's flood comes from an address of its own: the
# two APIs share the registry, so its failures would count against the attacker's address for ours too.
ATTACKER, ATTACKER_UNTHROTTLED, REAL_USER = "203.0.113.9", "203.0.113.99", "198.51.100.20"
UNTHROTTLED = {f"TRAINYARD_LOGIN_FAILURES_PER_{k}": str(10**9) for k in ("USER", "ADDRESS", "USER_TOTAL")}


def bodies(scale: float) -> dict[str, bytes]:
    keys = int(700_000 * scale)
    return {
        f"{keys} unknown hyperparameters": json.dumps(
            {"model_type": "xgboost", "hyperparameters": {f"unknown_{i}": i for i in range(keys)}}
        ).encode(),
        f"one {int(10 * scale)} MB string": json.dumps(
            {"model_type": "xgboost", "dataset": "x" * int(10_000_000 * scale)}
        ).encode(),
        "60k unknown keys, under 1 MiB": json.dumps(
            {"model_type": "xgboost", "hyperparameters": {f"u{i}": i for i in range(60_000)}}
        ).encode(),
    }


def timed(client: httpx.Client, body: bytes) -> tuple[float, int, int]:
    started = time.perf_counter()
    response = client.post("/train", content=body, headers={"Content-Type": "application/json"})
    return time.perf_counter() - started, response.status_code, len(response.content)


def login(client: httpx.Client, username: str, password: str, address: str) -> httpx.Response:
    return client.post("/api-token-auth/", json={"username": username, "password": password},
                       headers={"X-Forwarded-For": address})  # fmt: skip


def flood(url: str, username: str, guesses: int, address: str = ATTACKER) -> dict[str, float]:
    """``guesses`` wrong passwords back to back from one address: how many were checked, and when."""
    answers: list[tuple[float, int, int]] = []
    started = time.perf_counter()
    with httpx.Client(base_url=url, timeout=60) as client:
        for index in range(guesses):
            answer = login(client, username, f"guess-{index}", address)
            answers.append((time.perf_counter(), answer.status_code, int(answer.headers.get("Retry-After", 0))))
    statuses = [status for _, status, _ in answers]
    first_429 = statuses.index(429) if 429 in statuses else len(statuses)
    # A guess "inside a Retry-After": one checked (400) before the wait the previous 429 gave had passed.
    inside, blocked_until = 0, 0.0
    for at, status, retry in answers:
        if status == 429:
            blocked_until = max(blocked_until, at + retry - 1)  # the header rounds up; allow its second
        elif status == 400 and at < blocked_until:
            inside += 1
    return {"checked before the first 429": float(first_429), "checked in all": float(statuses.count(400)),
            "checked inside a Retry-After": float(inside), "flood s": answers[-1][0] - started,
            "last Retry-After s": float(answers[-1][2])}  # fmt: skip


def patient(url: str, username: str, seconds: float, address: str) -> tuple[int, list[int]]:
    """An attacker who waits each Retry-After out: (passwords checked in ``seconds``, the waits given)."""
    checked, waits = 0, []
    deadline = time.monotonic() + seconds
    with httpx.Client(base_url=url, timeout=60) as client:
        while time.monotonic() < deadline:
            answer = login(client, username, f"patient-{checked}", address)
            if answer.status_code == 429:
                waits.append(int(answer.headers["Retry-After"]))
                time.sleep(min(waits[-1], max(0.0, deadline - time.monotonic())))
            else:
                checked += 1
    return checked, waits


def logins_part(stack: object, admin: httpx.Client, guesses: int, names: int, patient_s: float) -> None:
    from runtime.processes import free_port
    from trainyard.registry import throttle, users

    ours = stack.start_api(name="api-two-workers", port=free_port(), workers=2)  # type: ignore[attr-defined]
    unthrottled = stack.start_api(name="api-unthrottled", port=free_port(), workers=2,  # type: ignore[attr-defined]
                                  env=UNTHROTTLED)  # fmt: skip
    passwords = {}
    for who in ("victim-a", "victim-b", "victim-c", "victim-d", "victim-e"):
        passwords[who] = uuid.uuid4().hex
        users.add_user(who, passwords[who], "hr_staff", actor="bench")

    # 1. One user, one address, back to back.
    mine, raw = flood(ours, "victim-a", guesses), flood(unthrottled, "victim-b", guesses, ATTACKER_UNTHROTTLED)
    print(f"\n{guesses} wrong passwords for one user from one address, back to back (2 uvicorn workers each)\n")
    print(table(["measure", "ours", "unthrottled", "ratio ours / unthrottled"],
                [[k, mine[k], raw[k], mine[k] / raw[k] if raw[k] else "-"] for k in mine]))  # fmt: skip

    # 1b. An attacker who waits out every Retry-After.
    mine_n, mine_waits = patient(ours, "victim-d", patient_s, "203.0.113.60")
    raw_n, _ = patient(unthrottled, "victim-e", patient_s, "203.0.113.61")
    print(f"\nAn attacker who waits out each Retry-After, for {patient_s:.0f} s\n")
    print(table(["passwords checked", "ours", "unthrottled", "ratio ours / unthrottled", "ours: the waits given (s)"],
                [["in all", mine_n, raw_n, mine_n / max(raw_n, 1), " ".join(map(str, mine_waits))]]))  # fmt: skip

    # 2. The same flood (another user, another attacking address) while the real user logs in from their own.
    latencies: list[float] = []
    statuses: list[int] = []
    stop = threading.Event()

    def real_user() -> None:
        with httpx.Client(base_url=ours, timeout=60) as client:
            while not stop.is_set():
                started = time.perf_counter()
                statuses.append(login(client, "victim-c", passwords["victim-c"], REAL_USER).status_code)
                latencies.append(time.perf_counter() - started)
                time.sleep(0.25)

    thread = threading.Thread(target=real_user)
    thread.start()
    during = flood(ours, "victim-c", guesses, "203.0.113.50")
    stop.set()
    thread.join()
    print("\nThe same flood against another user, who logs in meanwhile from a second address every 0.25 s\n")
    print(table(["real logins", "answered 200", "p50 s", "p95 s", "max s", "attacker checked before first 429"],
                [[len(statuses), statuses.count(200), median(latencies), percentile(latencies, 95), max(latencies),
                  during["checked before the first 429"]]]))  # fmt: skip

    # 3. Made-up user names: the throttle's state, the API's memory, other routes' latency.
    def other_route_p99(client: httpx.Client, samples: int = 300) -> float:
        times = []
        for _ in range(samples):
            started = time.perf_counter()
            client.get("/api/training/runs/").raise_for_status()
            times.append(time.perf_counter() - started)
        return percentile(times, 99)

    def api_rss_mb() -> float:
        process = next(p for name, p in stack.processes if name == "api-two-workers")  # type: ignore[attr-defined]
        tree = [psutil.Process(process.pid), *psutil.Process(process.pid).children(recursive=True)]
        return sum(p.memory_info().rss for p in tree) / 1e6

    reader = httpx.Client(base_url=ours, headers=admin.headers, timeout=60)
    before = {"p99": other_route_p99(reader), "rss": api_rss_mb(), "rows": throttle.entries()}
    addresses = [f"203.0.113.{i}" for i in range(10, 20)]
    sent = [0]

    def made_up(worker: int) -> None:
        with httpx.Client(base_url=ours, timeout=60) as client:
            for index in range(worker, names, 8):
                login(client, f"nobody-{index}", "guess", addresses[index % len(addresses)])
                sent[0] += 1

    started = time.perf_counter()
    pool = ThreadPoolExecutor(8)
    futures = [pool.submit(made_up, worker) for worker in range(8)]
    while sent[0] < names // 10:  # measure once the flood is under way (the API warm on its 429 path)
        time.sleep(0.1)
    early_rss = api_rss_mb()
    during_p99 = other_route_p99(reader)
    for future in futures:
        future.result()
    pool.shutdown()
    flood_s = time.perf_counter() - started
    after = {"p99": other_route_p99(reader), "rss": api_rss_mb(), "rows": throttle.entries()}
    # The worst case for the table: every made-up name from an address never seen (a botnet), written directly.
    spread = max(names // 5, 2 * stack_cap())
    for index in range(spread):
        throttle.record_failure(f"spread-{index}", f"2001:db8::{index:x}")
    print(f"\n{names} made-up user names from 10 addresses, 8 clients (2 uvicorn workers); then {spread} from "
          f"as many addresses (record_failure directly)\n")
    print(table(["measure", "before", "during / after the flood", "ratio"],
                [["GET /api/training/runs/ p99 s (during)", before["p99"], during_p99, during_p99 / before["p99"]],
                 ["GET /api/training/runs/ p99 s (after)", before["p99"], after["p99"], after["p99"] / before["p99"]],
                 ["API processes' RSS MB (at 10 % of the flood → end)", early_rss, after["rss"],
                  after["rss"] / early_rss],
                 ["throttle rows (names flood)", before["rows"], after["rows"], "-"],
                 [f"throttle rows ({spread} new addresses; cap {stack_cap()})", after["rows"], throttle.entries(),
                  "-"],
                 ["made-up names answered per s", "-", names / flood_s, "-"]]))  # fmt: skip
    reader.close()


def stack_cap() -> int:
    from trainyard.settings import get_settings

    return get_settings().login_throttle_max_entries


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--scale", type=float, default=1.0, help="size of the two large bodies (1 = 13 MB / 10 MB)")
    parser.add_argument("--guesses", type=int, default=1000, help="wrong passwords per flood")
    parser.add_argument("--names", type=int, default=100_000, help="made-up user names in the names flood")
    parser.add_argument("--patient-seconds", type=float, default=60, help="how long the patient attacker goes on")
    parser.add_argument("--part", choices=["bodies", "logins", "all"], default="all")
    args = parser.parse_args()
    with isolated_stack() as (stack, api):
        if args.part in ("bodies", "all"):
            bodies_part(stack, api, args.repeats, args.scale)
        if args.part in ("logins", "all"):
            logins_part(stack, api, args.guesses, args.names, args.patient_seconds)


def bodies_part(stack: object, api: httpx.Client, repeats: int, scale: float) -> None:
    from runtime.processes import free_port

    rows = []
    url = stack.start_api(name="api-unlimited", port=free_port(),  # type: ignore[attr-defined]
                          env={"TRAINYARD_MAX_REQUEST_BYTES": str(1024**3)})  # fmt: skip
    with httpx.Client(base_url=url, headers=api.headers, timeout=600) as unlimited:
        for name, body in bodies(scale).items():
            ours = [timed(api, body) for _ in range(repeats)]
            raw = [timed(unlimited, body) for _ in range(repeats)]
            t_ours, t_raw = median([o[0] for o in ours]), median([r[0] for r in raw])
            rows.append([name, f"{len(body) / 1e6:.1f} MB", ours[0][1], t_ours, ours[0][2], raw[0][1], t_raw,
                         raw[0][2], t_ours / t_raw])  # fmt: skip
    print(table(["body", "size", "ours status", "ours s", "ours answer bytes", "unlimited status", "unlimited s",
                 "unlimited answer bytes", "ratio ours / unlimited"], rows))  # fmt: skip


if __name__ == "__main__":
    main()
