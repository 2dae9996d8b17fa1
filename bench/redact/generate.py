#!/usr/bin/env python3
"""Writes the redaction benchmark's input: a log of SIZE bytes (default 256 MiB)
with COUNT random secrets (16-64 bytes, default 1,000) sprinkled in, raw and
encoded (base64, URL-encoded, JSON-escaped), and the secrets as a JSON array.

    generate.py LOG SECRETS_JSON [--size BYTES] [--secrets COUNT] [--seed N]

Deterministic for a given seed. The log is built from varied synthetic lines
(timestamps, levels, request ids, paths, durations, hex digests, prose) so the
scrubber sees text like a real CI or service log, not one repeated line.
"""
import argparse
import base64
import json
import random
import string
import urllib.parse

ALPHABET = string.ascii_letters + string.digits + "-_.+/=!@#%"
WORDS = ("connection request response worker queue retry timeout cache build step "
         "image layer pull push artifact deploy service health check started finished "
         "failed succeeded token session user namespace secret registry config value").split()
PATHS = ["/api/v1/items", "/healthz", "/v2/library/alpine/manifests/latest", "/login", "/metrics",
         "/api/namespaces/default/tree", "/static/app.js", "/v1/secrets/db/password"]


def line(rng, t):
    kind = rng.random()
    ts = f"2026-11-22T{t // 3600000 % 24:02d}:{t // 60000 % 60:02d}:{t // 1000 % 60:02d}.{t % 1000:03d}Z"
    if kind < 0.45:
        return (f"{ts} INFO  http request_id={rng.getrandbits(64):016x} method={rng.choice(['GET', 'POST', 'PUT'])} "
                f"path={rng.choice(PATHS)}/{rng.randrange(100000)} status={rng.choice([200, 200, 201, 204, 404, 500])} "
                f"duration_ms={rng.randrange(1, 900)}\n")
    if kind < 0.70:
        return f"{ts} DEBUG {' '.join(rng.choice(WORDS) for _ in range(rng.randrange(4, 16)))}\n"
    if kind < 0.85:
        return f"{ts} INFO  step {rng.randrange(50)}: sha256:{rng.getrandbits(256):064x} {rng.choice(WORDS)}\n"
    if kind < 0.95:
        return (f'{{"ts":"{ts}","level":"warn","msg":"{rng.choice(WORDS)} {rng.choice(WORDS)}",'
                f'"attempt":{rng.randrange(10)},"elapsed":{rng.random():.6f}}}\n')
    return f"{ts} ERROR {rng.choice(WORDS)} failed: exit status {rng.randrange(1, 255)}\n"


def encoded(rng, secret):
    form = rng.random()
    raw = secret.encode()
    if form < 0.55:
        return secret
    if form < 0.70:
        return base64.b64encode(rng.choice([b"", b"u:", b"x"]) + raw).decode()
    if form < 0.85:
        return urllib.parse.quote(secret, safe="")
    return json.dumps(secret)[1:-1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("log")
    ap.add_argument("secrets")
    ap.add_argument("--size", type=int, default=256 * 1024 * 1024)
    ap.add_argument("--secrets-count", "--secrets-n", dest="count", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=42)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    secrets = ["".join(rng.choice(ALPHABET) for _ in range(rng.randrange(16, 65))) for _ in range(args.count)]
    with open(args.secrets, "w") as f:
        json.dump(secrets, f)

    # A pool of lines reused in random order keeps generation fast while the
    # text stays varied; one line in 50 carries a secret.
    pool = [line(rng, rng.randrange(86400000)) for _ in range(200000)]
    written = 0
    with open(args.log, "w", buffering=1 << 20) as f:
        while written < args.size:
            batch = []
            for _ in range(1000):
                text = rng.choice(pool)
                if rng.randrange(50) == 0:
                    cut = rng.randrange(len(text) - 1)
                    text = f"{text[:cut]} password={encoded(rng, rng.choice(secrets))} {text[cut:]}"
                batch.append(text)
            chunk = "".join(batch)
            if written + len(chunk) > args.size:
                chunk = chunk[: args.size - written]
            f.write(chunk)
            written += len(chunk)


if __name__ == "__main__":
    main()
