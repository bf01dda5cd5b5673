#!/usr/bin/env python3
"""Agents asking for their next case over HTTPS, as fast as the server answers.

Each agent (one bearer token per line of TOKENS) keeps one TLS connection (HTTP/1.1 keep-alive)
and loops: POST /v1/work/next, then POST /v1/work/leases/{id}/release with a follow-up a day
later (the agent is done with it for today: the next claim takes another case). Every claim is
timed alone. Prints claims per second over the measured window (after WARMUP seconds) and the
latency percentiles of POST /v1/work/next.

    work-next-client.py HOST PORT TOKENS_FILE SECONDS [WARMUP]

Standard library only (asyncio, ssl), so that it runs wherever python3 does.
"""
import asyncio
import json
import ssl
import sys
import time
from datetime import datetime, timedelta, timezone


async def request(reader, writer, host, method, path, token, body=b""):
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Length: {len(body)}\r\n"
        + ("Content-Type: application/json\r\n" if body else "")
        + "\r\n"
    )
    writer.write(head.encode() + body)
    await writer.drain()
    status_line = await reader.readline()
    status = int(status_line.split()[1])
    length = 0
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b""):
            break
        name, _, value = line.decode("latin-1").partition(":")
        if name.lower() == "content-length":
            length = int(value.strip())
    payload = await reader.readexactly(length) if length else b""
    return status, payload


async def agent(host, port, token, deadline, warm_until, stats):
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    reader, writer = await asyncio.open_connection(host, port, ssl=context)
    follow_up = json.dumps({"followUpAt": (datetime.now(timezone.utc) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")}).encode()
    while time.monotonic() < deadline:
        started = time.monotonic()
        status, payload = await request(reader, writer, host, "POST", "/v1/work/next", token)
        elapsed = time.monotonic() - started
        if status != 200:
            stats["errors"] += 1
            continue
        lease = json.loads(payload).get("lease")
        if started >= warm_until:
            stats["latencies"].append(elapsed)
            if lease:
                stats["claims"] += 1
            else:
                stats["empty"] += 1
        if lease:
            status, _ = await request(reader, writer, host, "POST", f"/v1/work/leases/{lease['id']}/release", token, follow_up)
            if status != 204:
                stats["errors"] += 1
    writer.close()


async def main():
    host, port, tokens_file, seconds = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
    warmup = float(sys.argv[5]) if len(sys.argv) > 5 else 5.0
    tokens = [line.strip() for line in open(tokens_file) if line.strip()]
    stats = {"latencies": [], "claims": 0, "empty": 0, "errors": 0}
    now = time.monotonic()
    await asyncio.gather(*(agent(host, port, t, now + warmup + seconds, now + warmup, stats) for t in tokens))
    lat = sorted(stats["latencies"])

    def pct(p):
        return lat[min(len(lat) - 1, int(p / 100 * len(lat)))] * 1000 if lat else float("nan")

    print(f"agents: {len(tokens)}  measured: {seconds:.0f}s after {warmup:.0f}s warm-up")
    print(f"claims/s: {stats['claims'] / seconds:.0f}   (claims {stats['claims']}, without a case {stats['empty']}, errors {stats['errors']})")
    print(f"work/next latency ms: p50 {pct(50):.1f}  p90 {pct(90):.1f}  p99 {pct(99):.1f}  max {lat[-1] * 1000 if lat else float('nan'):.1f}")


asyncio.run(main())
