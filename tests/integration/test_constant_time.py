"""Constant-time credential checks, measured from outside: response times of
many interleaved requests presenting (a) a credential whose public id does not exist and (b) the
public id of a real credential with a wrong secret must not differ measurably. Done for API keys
(Bearer on GET /v1/me) and for the agent self-rotation secret (rotationSecret). Each request
comes from a fresh X-Forwarded-For address through a trusted loopback proxy, so neither the
per-address budget of refused credentials nor the 3-per-15-minutes rotation limit interferes:
what is timed is the credential check of a request that is not limited. A malformed token is timed as well, as a control that is reported
but not judged.

The machine is shared and noisy, so the test interleaves the classes in random order on one
keep-alive connection, warms up first, compares medians and 20%-trimmed means, and fails only
when both differ by more than a practical threshold (max(150 us, 8 %)) *and* a Mann-Whitney U
test says the distributions differ (p < 1e-4). A timing leak worth exploiting over the network
would show in all three. Pure Python: no numpy or scipy needed.
"""
import math
import os
import random
import secrets
import statistics
import tempfile
import time
import zlib

import pytest
import requests

from conftest import Bag, Server, expect, init_data_dir

B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
SAMPLES = int(os.environ.get("COFFER_CT_SAMPLES", "800"))  # per class
WARMUP = 100
ABS_THRESHOLD_S = 150e-6
REL_THRESHOLD = 0.08
P_THRESHOLD = 1e-4
BUDGET_S = float(os.environ.get("COFFER_CT_BUDGET_S", "20"))  # per measurement


def forge(kind, public_id=None):
    """A well-formed credential (valid checksum) with a random secret: the server must parse it,
    look its public id up, and compare an HMAC before it can refuse it."""
    public_id = public_id or "".join(secrets.choice(B62) for _ in range(12))
    head = f"cfr_{kind}_{public_id}_" + "".join(secrets.choice(B62) for _ in range(43))
    crc, out = zlib.crc32(head.encode()), ""
    for _ in range(6):
        out, crc = B62[crc % 62] + out, crc // 62
    return head + "_" + out


def public_id(credential):
    return credential.split("_")[2]


def trimmed_mean(xs, cut=0.2):
    xs = sorted(xs)
    k = int(len(xs) * cut)
    return statistics.fmean(xs[k:len(xs) - k])


def mann_whitney_p(a, b):
    """Two-sided p-value of the Mann-Whitney U test (normal approximation, tie-corrected)."""
    n1, n2 = len(a), len(b)
    ranked = sorted([(x, 0) for x in a] + [(x, 1) for x in b])
    ranks = [0.0] * len(ranked)
    ties = 0.0
    i = 0
    while i < len(ranked):
        j = i
        while j + 1 < len(ranked) and ranked[j + 1][0] == ranked[i][0]:
            j += 1
        for k in range(i, j + 1):
            ranks[k] = (i + j) / 2 + 1
        t = j - i + 1
        ties += t ** 3 - t
        i = j + 1
    r1 = sum(r for r, (_, g) in zip(ranks, ranked) if g == 0)
    u = r1 - n1 * (n1 + 1) / 2
    n = n1 + n2
    sigma = math.sqrt(n1 * n2 / 12 * ((n + 1) - ties / (n * (n - 1))))
    if sigma == 0:
        return 1.0
    z = (u - n1 * n2 / 2) / sigma
    return math.erfc(abs(z) / math.sqrt(2))


def measure(send, classes, samples=SAMPLES, warmup=WARMUP, budget_s=BUDGET_S):
    """Times `send(cls)` for each class, interleaved in random order; returns {cls: [seconds]}.
    Stops early once `budget_s` is spent (the order is random, so the classes stay balanced)."""
    order = [c for c in classes for _ in range(warmup)]
    random.shuffle(order)
    for c in order:
        send(c)
    times = {c: [] for c in classes}
    order = [c for c in classes for _ in range(samples)]
    random.shuffle(order)
    deadline = time.monotonic() + budget_s
    for i, c in enumerate(order):
        if i % 50 == 0 and time.monotonic() > deadline:
            break
        start = time.perf_counter()
        send(c)
        times[c].append(time.perf_counter() - start)
    assert all(len(v) >= 150 for v in times.values()), "too few samples in the time budget"
    return times


def judge(times, a, b, label):
    """Fails only if a and b differ in median, trimmed mean and rank test all at once."""
    ma, mb = statistics.median(times[a]), statistics.median(times[b])
    ta, tb = trimmed_mean(times[a]), trimmed_mean(times[b])
    p = mann_whitney_p(times[a], times[b])
    limit = max(ABS_THRESHOLD_S, REL_THRESHOLD * min(ma, mb))
    summary = (f"{label}: median {a} {ma * 1e6:.0f} us vs {b} {mb * 1e6:.0f} us, trimmed mean "
               f"{ta * 1e6:.0f} vs {tb * 1e6:.0f} us, Mann-Whitney p={p:.2g}, "
               f"limit {limit * 1e6:.0f} us")
    print(summary)
    leak = abs(ma - mb) > limit and abs(ta - tb) > limit and p < P_THRESHOLD
    assert not leak, "timing difference: " + summary
    return summary


# Under a sanitizer (scripts/test-sanitizers.sh) the server's timings mean nothing.
needs_plain_build = pytest.mark.skipif(bool(os.environ.get("COFFER_SANITIZER")),
                                       reason="timing is meaningless under a sanitizer")


@pytest.fixture(scope="module")
def env():
    tmp = tempfile.TemporaryDirectory(prefix="coffer-ct-")
    data = os.path.join(tmp.name, "data")
    srv = Server(data, init_data_dir(data), extra_args=["--trusted-proxies", "127.0.0.1"])
    try:
        admin = srv.session()
        agent = expect(admin.post(srv.url + "/v1/agents", json={"name": "ct-agent"}), 201).json()
        yield Bag(srv=srv, agent_key=agent["api_key"], rot=agent["rotation_secret"])
    finally:
        srv.stop()
        tmp.cleanup()


@needs_plain_build
def test_api_key_unknown_id_and_wrong_secret_take_the_same_time(env):
    url = env.srv.url + "/v1/me"
    known = public_id(env.srv.admin_key)
    # The same unknown id every time: like the known one, it is looked up once and then served
    # from the credential cache, so both classes take their steady-state paths.
    unknown_id = "".join(secrets.choice(B62) for _ in range(12))
    wrong = [forge("key", known) for _ in range(64)]
    unknown = [forge("key", unknown_id) for _ in range(64)]
    tokens = {"unknown-id": unknown, "wrong-secret": wrong, "malformed": ["cfr_key_garbage"]}
    s = requests.Session()
    counter = [0]

    def send(cls):
        # Each request from a new forwarded address, within its budget of refused credentials.
        counter[0] += 1
        n = counter[0]
        ip = f"172.{16 + ((n >> 16) & 15)}.{(n >> 8) & 255}.{n & 255}"
        r = s.get(url, headers={"Authorization": "Bearer " + random.choice(tokens[cls]),
                                "X-Forwarded-For": ip}, timeout=30)
        assert r.status_code == 401

    start = time.monotonic()
    times = measure(send, list(tokens))
    judge(times, "unknown-id", "wrong-secret", "API key")
    print(f"control: malformed median {statistics.median(times['malformed']) * 1e6:.0f} us; "
          f"{sum(map(len, times.values()))} timed requests in {time.monotonic() - start:.1f} s")


@needs_plain_build
def test_rotation_secret_unknown_id_and_wrong_secret_take_the_same_time(env):
    url = env.srv.url + "/v1/agents/self/rotate-key"
    known = public_id(env.rot)
    unknown_id = "".join(secrets.choice(B62) for _ in range(12))
    secrets_by_class = {"unknown-id": [forge("rot", unknown_id) for _ in range(64)],
                        "wrong-secret": [forge("rot", known) for _ in range(64)]}
    s = requests.Session()
    counter = [0]

    def send(cls):
        counter[0] += 1
        n = counter[0]
        ip = f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"
        r = s.post(url, json={"rotationSecret": random.choice(secrets_by_class[cls])},
                   headers={"Authorization": "Bearer " + env.agent_key, "X-Forwarded-For": ip},
                   timeout=30)
        assert r.status_code == 401

    samples = max(200, SAMPLES // 2)
    times = measure(send, list(secrets_by_class), samples=samples, warmup=50, budget_s=10)
    judge(times, "unknown-id", "wrong-secret", "rotation secret")


def test_the_statistics_see_a_real_difference():
    """The judge is not blind: a 300 us difference in noisy samples is caught, none is not."""
    rng = random.Random(7)
    base = [0.002 + rng.expovariate(1 / 0.0005) for _ in range(1000)]
    same = [0.002 + rng.expovariate(1 / 0.0005) for _ in range(1000)]
    slow = [x + 0.0003 for x in (0.002 + rng.expovariate(1 / 0.0005) for _ in range(1000))]
    judge({"a": base, "b": same}, "a", "b", "synthetic equal")
    with pytest.raises(AssertionError):
        judge({"a": base, "b": slow}, "a", "b", "synthetic shifted")
