"""Chat benchmarks (issue 3), in production mode: PostgreSQL, the bounded Redis pub/sub
channel layer, daphne.

    .venv/bin/python -m bench.chat                    # about 2 minutes
    .venv/bin/python -m bench.chat --messages 200 --idle 500

1. Visitor→agent message latency through the real consumers with persistence: a widget
   socket sends ``message.send``; the clock stops when the agent's console socket receives
   the ``message`` frame (parse, rate limit, conversation lookup, the INSERT under the
   conversation's row lock, commit, publish, forward). In the same run and the same daphne
   process, on the same layer, a bare Channels relay (bench/asgi.py: group_send what it
   receives, nothing else) carries the same text; rounds alternate between the two so both
   see the same machine load. A third path, the durable floor, is the same bare relay
   plus one committed INSERT per frame on the same PostgreSQL (what any relay that
   persists before fan-out pays: on a disk whose fdatasync takes milliseconds, more
   than the bare relay itself). Reported: p50/p99 of each and the ratios.
2. Relay throughput through the same daphne process: ``--pairs`` sender pairs at once,
   each sending its next message as soon as the previous one arrived, for
   ``--throughput-seconds``; product pairs (a shopper's widget → its agent's console, a
   chat each), bare pairs (two relay sockets, a room each) and durable-floor pairs take
   turns, ``--rounds``
   times each, in alternating order. Reported: messages delivered per second, and the
   ratio product ÷ bare.
3. Idle widget sockets held by one fresh daphne process (real widget handshakes: token,
   Origin, hello), and memory per socket = RSS growth / sockets.

Traffic goes only to 127.0.0.1 servers this command starts; they are stopped and the
database and Redis keys dropped afterwards, also on failure or Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import signal
import statistics
import subprocess
import sys
import time
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Origin

from .environment import (
    PYTHON,
    REPO,
    BenchError,
    check_services,
    free_port,
    open_database,
    run_django,
    wait_healthy,
)

CONNECT_CONCURRENCY = 50
KIND_PATH = {"bare": "relay", "durable": "durable"}
FRAME_WAIT = 10.0  # a bound on any one wait, so a broken run stops


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.chat", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--messages", type=int, default=1000, help="measured round trips each")
    parser.add_argument("--warmup", type=int, default=100, help="unmeasured round trips each")
    parser.add_argument("--pairs", type=int, default=20, help="concurrent sender pairs")
    parser.add_argument(
        "--throughput-seconds", type=float, default=5.0, help="seconds per throughput turn"
    )
    parser.add_argument("--rounds", type=int, default=2, help="throughput turns of each")
    parser.add_argument(
        "--idle", default="500,2000", help="idle socket counts, ascending ('' for none)"
    )
    parser.add_argument("--hold", type=float, default=10.0, help="seconds to hold the sockets")
    parser.add_argument("--json", type=Path, default=None, help="where to save the results")
    return parser.parse_args(argv)


# --- daphne ------------------------------------------------------------------------------


class Daphne:
    """One daphne process serving bench.asgi on 127.0.0.1; ``stop()`` ends its group."""

    def __init__(self, env: dict[str, str], port: int) -> None:
        self.port = port
        self.proc = subprocess.Popen(
            [PYTHON, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "-v", "0"]
            + ["bench.asgi:application"],
            env=env,
            cwd=REPO,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        try:
            wait_healthy(port, self.proc, self._stderr)
        except BenchError:
            self.stop()
            raise

    def _stderr(self) -> str:
        return self.proc.stderr.read().decode() if self.proc.stderr else ""

    def rss_kib(self) -> int:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise BenchError("no VmRSS for daphne")

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                return
            try:
                self.proc.wait(timeout=10)
                return
            except subprocess.TimeoutExpired:
                continue


# --- clients -----------------------------------------------------------------------------


async def open_socket(url: str, origin: str, cookie: str | None = None) -> ClientConnection:
    headers = {"Cookie": cookie} if cookie else None
    return await connect(
        url,
        origin=Origin(origin),
        additional_headers=headers,
        proxy=None,
        ping_interval=None,
        open_timeout=FRAME_WAIT,
        compression=None,
    )


async def next_frame(ws: ClientConnection, wanted: str) -> dict[str, Any]:
    while True:
        frame = json.loads(await asyncio.wait_for(ws.recv(), FRAME_WAIT))
        if frame["type"] == wanted:
            return frame
        if frame["type"] == "error":
            raise BenchError(f"error frame: {frame}")


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))
    return ordered[index]


async def latency(seed: dict[str, Any], port: int, messages: int, warmup: int) -> dict:
    """Alternating round trips: product (widget → console) and bare relay (a → b)."""
    base = f"ws://127.0.0.1:{port}"
    origin = seed["origin"]
    conversation_id = seed["conversation_id"]
    async with AsyncExitStack() as stack:
        widget = await open_socket(
            f"{base}/ws/widget/?token={quote(seed['shopper_token'])}", origin
        )
        stack.push_async_callback(widget.close)
        await next_frame(widget, "hello")
        console = await open_socket(
            f"{base}/ws/console/", "http://127.0.0.1", cookie=seed["console_cookie"]
        )
        stack.push_async_callback(console.close)
        await next_frame(console, "hello")
        relay_a = await open_socket(f"{base}/ws/bench/relay/?room=1", origin)
        stack.push_async_callback(relay_a.close)
        relay_b = await open_socket(f"{base}/ws/bench/relay/?room=1", origin)
        stack.push_async_callback(relay_b.close)
        durable_a = await open_socket(f"{base}/ws/bench/durable/?room=d1", origin)
        stack.push_async_callback(durable_a.close)
        durable_b = await open_socket(f"{base}/ws/bench/durable/?room=d1", origin)
        stack.push_async_callback(durable_b.close)

        product: list[float] = []
        bare: list[float] = []
        durable: list[float] = []
        for n in range(warmup + messages):
            text = f"Is delivery free over 50? #{n}"
            started = time.perf_counter()
            await widget.send(
                json.dumps(
                    {
                        "type": "message.send",
                        "conversation_id": conversation_id,
                        "client_message_id": f"bench-{n}",
                        "text": text,
                    }
                )
            )
            frame = await next_frame(console, "message")
            product_ms = (time.perf_counter() - started) * 1000
            if frame["message"]["text"] != text:
                raise BenchError(f"console got {frame['message']['text']!r}, expected {text!r}")
            # The widget's own copy of its message: read it so nothing queues up.
            await next_frame(widget, "message")
            started = time.perf_counter()
            await relay_a.send(text)
            received = await asyncio.wait_for(relay_b.recv(), FRAME_WAIT)
            bare_ms = (time.perf_counter() - started) * 1000
            if received != text:
                raise BenchError(f"relay got {received!r}, expected {text!r}")
            started = time.perf_counter()
            await durable_a.send(text)
            received = await asyncio.wait_for(durable_b.recv(), FRAME_WAIT)
            durable_ms = (time.perf_counter() - started) * 1000
            if received != text:
                raise BenchError(f"durable relay got {received!r}, expected {text!r}")
            if n >= warmup:
                product.append(product_ms)
                bare.append(bare_ms)
                durable.append(durable_ms)

    def summary(values: list[float]) -> dict[str, float]:
        return {
            "p50_ms": round(statistics.median(values), 2),
            "p99_ms": round(percentile(values, 0.99), 2),
            "mean_ms": round(statistics.fmean(values), 2),
        }

    product_summary, bare_summary = summary(product), summary(bare)
    durable_summary = summary(durable)
    return {
        "messages": messages,
        "product": product_summary,
        "bare": bare_summary,
        "durable": durable_summary,
        "ratio_p50": round(product_summary["p50_ms"] / bare_summary["p50_ms"], 2),
        "ratio_p99": round(product_summary["p99_ms"] / bare_summary["p99_ms"], 2),
        "durable_ratio_p50": round(product_summary["p50_ms"] / durable_summary["p50_ms"], 2),
        "durable_ratio_p99": round(product_summary["p99_ms"] / durable_summary["p99_ms"], 2),
    }


async def throughput(
    seed: dict[str, Any], port: int, seconds: float, rounds: int, warmup: float = 1.0
) -> dict:
    """Messages per second through one daphne: product pairs (widget → console) against
    bare relay pairs, taking turns (see the module's docstring)."""
    base = f"ws://127.0.0.1:{port}"
    origin = seed["origin"]
    pairs = seed["pairs"]
    async with AsyncExitStack() as stack:

        async def opened(url: str, origin: str, cookie: str | None = None) -> ClientConnection:
            ws = await open_socket(url, origin, cookie)
            stack.push_async_callback(ws.close)
            return ws

        product = []
        for pair in pairs:
            widget = await opened(f"{base}/ws/widget/?token={quote(pair['shopper_token'])}", origin)
            await next_frame(widget, "hello")
            console = await opened(
                f"{base}/ws/console/", "http://127.0.0.1", cookie=pair["console_cookie"]
            )
            await next_frame(console, "hello")
            product.append((pair["conversation_id"], widget, console))
        relays: dict[str, list[tuple[ClientConnection, ClientConnection]]] = {}
        for kind in ("bare", "durable"):
            relays[kind] = []
            for n in range(len(pairs)):
                a = await opened(f"{base}/ws/bench/{KIND_PATH[kind]}/?room={kind}{n}", origin)
                b = await opened(f"{base}/ws/bench/{KIND_PATH[kind]}/?room={kind}{n}", origin)
                relays[kind].append((a, b))
        sent = 0

        async def product_pair(
            conversation_id: int, widget: ClientConnection, console: ClientConnection, until: float
        ) -> int:
            nonlocal sent
            count = 0
            while time.perf_counter() < until:
                sent += 1
                text = f"Throughput #{sent}"
                await widget.send(
                    json.dumps(
                        {
                            "type": "message.send",
                            "conversation_id": conversation_id,
                            "client_message_id": f"tp-{sent}",
                            "text": text,
                        }
                    )
                )
                frame = await next_frame(console, "message")
                if frame["message"]["text"] != text:
                    raise BenchError(f"console got {frame['message']['text']!r}, not {text!r}")
                await next_frame(widget, "message")  # the sender's own copy
                count += 1
            return count

        async def bare_pair(a: ClientConnection, b: ClientConnection, until: float) -> int:
            count = 0
            while time.perf_counter() < until:
                text = f"Throughput #{count}"
                await a.send(text)
                if await asyncio.wait_for(b.recv(), FRAME_WAIT) != text:
                    raise BenchError("the bare relay lost a message")
                count += 1
            return count

        async def turn(kind: str, length: float) -> float:
            started = time.perf_counter()
            until = started + length
            if kind == "product":
                counts = await asyncio.gather(*(product_pair(*p, until) for p in product))
            else:
                counts = await asyncio.gather(*(bare_pair(a, b, until) for a, b in relays[kind]))
            return sum(counts) / (time.perf_counter() - started)

        kinds = ["product", "bare", "durable"]
        for kind in kinds:
            await turn(kind, warmup)
        rates: dict[str, list[float]] = {kind: [] for kind in kinds}
        for r in range(rounds):
            for kind in kinds[::-1] if r % 2 else kinds:
                rates[kind].append(await turn(kind, seconds))
                log(f"throughput: {kind} {rates[kind][-1]:.0f} msgs/s")
    mean = {kind: statistics.fmean(values) for kind, values in rates.items()}
    return {
        "pairs": len(pairs),
        "seconds": seconds,
        "rounds": rounds,
        "product_msgs_s": round(mean["product"]),
        "bare_msgs_s": round(mean["bare"]),
        "durable_msgs_s": round(mean["durable"]),
        "ratio": round(mean["product"] / mean["bare"], 3),
        "durable_ratio": round(mean["product"] / mean["durable"], 3),
        "turns": {k: [round(v) for v in vs] for k, vs in rates.items()},
    }


async def idle_sockets(
    seed: dict[str, Any], daphne: Daphne, counts: list[int], hold: float
) -> list[dict]:
    """Open widget sockets up to each count, hold them idle, check they all still answer
    a ``ping``, and report RSS growth per socket (baseline: after one warm-up socket)."""
    base = f"ws://127.0.0.1:{daphne.port}/ws/widget/?token="
    tokens = seed["idle_tokens"]
    origin = seed["origin"]
    rows = []
    opened: list[ClientConnection] = []
    limit = asyncio.Semaphore(CONNECT_CONCURRENCY)

    async def one(token: str) -> ClientConnection:
        async with limit:
            ws = await open_socket(base + quote(token), origin)
            await next_frame(ws, "hello")
            return ws

    try:
        opened.append(await one(tokens[0]))  # warm-up: imports, DB connections, Redis
        await asyncio.sleep(1)
        baseline = daphne.rss_kib()
        for count in counts:
            started = time.perf_counter()
            opened += await asyncio.gather(*(one(t) for t in tokens[len(opened) : count + 1]))
            connect_s = time.perf_counter() - started
            await asyncio.sleep(hold)  # idle: no frames either way
            rss = daphne.rss_kib()
            # Every socket is still open and served: each answers a ping.
            alive = sum(await asyncio.gather(*(_answers_ping(ws, limit) for ws in opened[1:])))
            rows.append(
                {
                    "sockets": count,
                    "alive_after_hold": alive,
                    "hold_s": hold,
                    "connect_s": round(connect_s, 1),
                    "rss_mib": round(rss / 1024, 1),
                    "rss_growth_mib": round((rss - baseline) / 1024, 1),
                    "kib_per_socket": round((rss - baseline) / count, 1),
                }
            )
            log(f"idle sockets: {rows[-1]}")
    finally:
        await asyncio.gather(*(ws.close() for ws in opened), return_exceptions=True)
    return rows


async def _answers_ping(ws: ClientConnection, limit: asyncio.Semaphore) -> bool:
    async with limit:
        try:
            await ws.send('{"type": "ping"}')
            await next_frame(ws, "pong")
            return True
        except (BenchError, TimeoutError, OSError, Exception):
            return False


# --- the run -----------------------------------------------------------------------------


def render_relay(results: dict[str, Any]) -> list[str]:
    """The latency and throughput tables (also printed by ``python -m bench --parts chat``)."""
    lat = results["latency"]
    out = [
        f"## Visitor→agent message latency, {lat['messages']} round trips each, alternating",
        "",
        "| path | p50 ms | p99 ms | mean ms |",
        "|---|---|---|---|",
        f"| real consumers (widget → PostgreSQL → layer → console) | {lat['product']['p50_ms']} "
        f"| {lat['product']['p99_ms']} | {lat['product']['mean_ms']} |",
        f"| bare Channels relay (same daphne, same layer) | {lat['bare']['p50_ms']} "
        f"| {lat['bare']['p99_ms']} | {lat['bare']['mean_ms']} |",
        f"| bare relay + one committed INSERT (the durable floor) | {lat['durable']['p50_ms']} "
        f"| {lat['durable']['p99_ms']} | {lat['durable']['mean_ms']} |",
        f"| ratio real ÷ bare (goal ≤ 1.5 / ≤ 2) | {lat['ratio_p50']} | {lat['ratio_p99']} | |",
        f"| ratio real ÷ durable floor | {lat['durable_ratio_p50']} "
        f"| {lat['durable_ratio_p99']} | |",
    ]
    thr = results.get("throughput")
    if thr:
        out += [
            "",
            f"## Relay throughput, one daphne, {thr['pairs']} sender pairs, "
            f"{thr['rounds']} × {thr['seconds']} s turns each, alternating",
            "",
            "| path | msgs/s | per turn |",
            "|---|---|---|",
            f"| real consumers (widget → PostgreSQL → layer → console) "
            f"| {thr['product_msgs_s']} | {thr['turns']['product']} |",
            f"| bare Channels relay | {thr['bare_msgs_s']} | {thr['turns']['bare']} |",
            f"| bare relay + one committed INSERT (the durable floor) "
            f"| {thr['durable_msgs_s']} | {thr['turns']['durable']} |",
            f"| ratio real ÷ bare (goal ≥ 0.5) | {thr['ratio']} | |",
            f"| ratio real ÷ durable floor | {thr['durable_ratio']} | |",
        ]
    return out


def render(results: dict[str, Any]) -> str:
    out = [f"# CartAssist chat benchmark: `{results['command']}`", "", *render_relay(results)]
    if results.get("idle"):
        out += [
            "",
            "## Idle widget sockets held by one daphne process",
            "",
            "| sockets | alive after hold | hold s | connect s | RSS MiB | RSS growth MiB "
            "| KiB per socket |",
            "|---|---|---|---|---|---|---|",
        ]
    for r in results.get("idle", []):
        out.append(
            f"| {r['sockets']} | {r['alive_after_hold']} | {r['hold_s']} | {r['connect_s']} "
            f"| {r['rss_mib']} | {r['rss_growth_mib']} | {r['kib_per_socket']} |"
        )
    return "\n".join(out)


def bench_env(db_env: dict[str, str]) -> dict[str, str]:
    return {
        **db_env,
        # The socket rate limit protects production; here it would throttle the bench.
        "CARTASSIST_SOCKET_MESSAGE_BURST": "1000000",
        "CARTASSIST_AGENT_HEARTBEAT_TIMEOUT_SECONDS": "3600",
    }


def relay_run(
    db_env: dict[str, str],
    *,
    messages: int,
    warmup: int,
    pairs: int,
    seconds: float,
    rounds: int,
    idle_visitors: int = 0,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Seed, start one daphne, measure latency and throughput against the bare relay;
    returns the figures and the seed (for the idle sockets)."""
    env = bench_env(db_env)
    seed = run_django(env, "bench.chat_seed", str(idle_visitors), str(pairs))
    log("latency: real consumers vs bare relay, one daphne process")
    daphne = Daphne(env, free_port())
    try:
        results: dict[str, Any] = {
            "latency": asyncio.run(latency(seed, daphne.port, messages, warmup))
        }
        log(f"latency: {results['latency']}")
        if pairs:
            log(f"throughput: {pairs} pairs, {rounds} × {seconds} s turns each")
            results["throughput"] = asyncio.run(throughput(seed, daphne.port, seconds, rounds))
            log(f"throughput: {results['throughput']}")
    finally:
        daphne.stop()
    return results, seed


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    counts = sorted(int(c) for c in args.idle.split(",") if c.strip())
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = 2 * max(counts, default=0) + 1024
    if soft < needed:
        if hard < needed:
            log(f"bench: needs {needed} open files (ulimit -n), the hard limit is {hard}")
            return 2
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))  # daphne inherits it
    try:
        check_services(["postgres"])
    except BenchError as exc:
        log(f"bench: {exc}")
        return 2
    results: dict[str, Any] = {"command": " ".join(["python -m bench.chat", *argv])}
    try:
        db = open_database("postgres")
    except BenchError as exc:
        log(f"bench: {exc}")
        return 2
    daphnes: list[Daphne] = []
    try:
        relay, seed = relay_run(
            db.env,
            messages=args.messages,
            warmup=args.warmup,
            pairs=args.pairs,
            seconds=args.throughput_seconds,
            rounds=args.rounds,
            idle_visitors=max(counts, default=0) + 1,
        )
        results.update(relay)
        if counts:
            log(f"idle sockets: {counts}, a fresh daphne process")
            daphnes.append(Daphne(bench_env(db.env), free_port()))
            results["idle"] = asyncio.run(idle_sockets(seed, daphnes[0], counts, args.hold))
    except BenchError as exc:
        log(f"bench: {exc}")
        return 1
    except KeyboardInterrupt:
        log("bench: interrupted; servers stopped and the database dropped")
        return 130
    finally:
        for daphne in daphnes:
            daphne.stop()
        db.close()
    print(render(results))
    path = args.json or REPO / "bench" / "results" / f"chat-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2))
    log(f"bench: results saved to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
