"""Live view: training speed, frame delivery and memory of a real server, measured from a real client.

- The server is ``polytope_lens.server`` under uvicorn in a subprocess (loopback
  only), with one torch thread as ``polytope-lens serve`` uses by default.
- The client is the ``websockets`` package in this process; it decodes every
  frame it receives, as a browser would.
- The bare loop is ``Trainer.step`` (the session's own training code) in this
  process, with nothing else running.

Everything is bounded in time: a run that does not finish within its timeout
fails loudly instead of hanging.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import torch

from polytope_lens.core.settings import RunConfig
from polytope_lens.core.training import Trainer
from polytope_lens.web.wire import decode_frame

from frames import ring_target  # noqa: E402

_CHILD = """
import json, socket, sys
import torch
torch.set_num_threads(int(sys.argv[2]))
import uvicorn
from polytope_lens.web.app import uvicorn_config
from polytope_lens.web.config import Settings
sock = socket.socket(fileno=int(sys.argv[1]))
settings = Settings(max_sessions=int(sys.argv[3]), **json.loads(sys.argv[4]))
uvicorn.Server(uvicorn_config(settings, log_level="warning")).run(sockets=[sock])
"""


def bare_training(steps: int, threads: int = 1) -> dict:
    """Seconds and steps/s of ``steps`` steps of the default run, nothing else running."""
    torch.set_num_threads(threads)
    trainer = Trainer(RunConfig(), ring_target(), device="cpu")
    trainer.step(20)  # warm-up
    t0 = time.perf_counter()
    done = 0
    while done < steps:
        n = min(16, steps - done)  # the session trains in the same small batches of steps
        trainer.step(n)
        done += n
    seconds = time.perf_counter() - t0
    return {"steps": steps, "seconds": seconds, "steps_per_s": steps / seconds}


class Server:
    """A real server in a subprocess on a free loopback port (``with Server() as srv``)."""

    def __init__(self, threads: int = 1, max_sessions: int = 4, startup_timeout: float = 60.0, **settings):
        self.threads = threads
        self.max_sessions = max_sessions
        self.settings = settings  # more Settings fields, e.g. session_engine="ray"
        self.startup_timeout = startup_timeout
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> "Server":
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        self.port = sock.getsockname()[1]
        env = dict(os.environ, OMP_NUM_THREADS=str(self.threads), MKL_NUM_THREADS=str(self.threads))
        self.log = tempfile.TemporaryFile()
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-c", _CHILD, str(sock.fileno()), str(self.threads), str(self.max_sessions),
                 json.dumps(self.settings)],
                pass_fds=(sock.fileno(),),
                stdout=self.log,
                stderr=subprocess.STDOUT,
                env=env,
            )
        finally:
            sock.close()
        deadline = time.monotonic() + self.startup_timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited early:\n{self.output()}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/api/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.__exit__()
                raise TimeoutError("the server did not become healthy")
            time.sleep(0.1)
        return self

    def __exit__(self, *exc) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(2)  # SIGINT: uvicorn's graceful shutdown
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")[-4000:]

    def memory(self) -> dict:
        """Current and peak resident memory of the server process, in MiB (from /proc)."""
        fields = {}
        with open(f"/proc/{self.process.pid}/status") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key in ("VmRSS", "VmHWM"):
                    fields[key] = int(value.split()[0]) / 1024.0
        return {"rss_mib": fields["VmRSS"], "peak_mib": fields["VmHWM"]}


async def _next_frame(ws, timeout: float) -> tuple[dict, bytes]:
    deadline = time.perf_counter() + timeout
    while True:
        left = deadline - time.perf_counter()
        if left <= 0:
            raise TimeoutError("no frame arrived in time")
        message = await asyncio.wait_for(ws.recv(), left)
        if isinstance(message, bytes):
            header, _ = decode_frame(message)
            return header, message
        data = json.loads(message)
        if data.get("type") == "error":
            raise RuntimeError(f"server error: {data.get('message')}")


async def live_session(
    url: str,
    config: dict | None = None,
    until_step: int | None = None,
    seconds: float | None = None,
    timeout: float = 300.0,
    view: dict | None = None,
) -> dict:
    """One live run: view (resolution, render mode), configure, start, receive (and decode) frames
    until ``until_step`` or ``seconds``.

    Returns frames/s received, steps/s (from the frames' step numbers), the time from
    ``configure`` to its first frame and from ``start`` to the first frame of the run.
    """
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    for attempt in range(40):  # a session that just ended may still count as live for a moment
        ws = await connect(url, max_size=None, open_timeout=30)
        try:
            first = json.loads(await asyncio.wait_for(ws.recv(), 120))
        except ConnectionClosed:
            first = {"field": "busy"}
        if first.get("field") != "busy":
            break
        await ws.close()
        await asyncio.sleep(0.25)
    else:
        raise RuntimeError("the server stayed busy")
    async with ws:
        if view:
            await ws.send(json.dumps({"type": "view", **view}))
        t0 = time.perf_counter()
        await ws.send(json.dumps({"type": "configure", "config": config or {}}))
        await _next_frame(ws, 60.0)
        configure_s = time.perf_counter() - t0
        t_start = time.perf_counter()
        await ws.send(json.dumps({"type": "start"}))
        frames: list[tuple[float, int, int]] = []
        measured: list[tuple[float, int]] = []  # (arrival, measured_step) whenever the measured step moves on
        total_bytes = 0
        while True:
            left = timeout - (time.perf_counter() - t_start)
            header, message = await _next_frame(ws, max(left, 0.001))
            now = time.perf_counter()
            if header["step"] > 0:
                frames.append((now, header["step"], len(message)))
                total_bytes += len(message)
                step_measured = header.get("measured_step", header["step"])
                if not measured or step_measured != measured[-1][1]:
                    measured.append((now, step_measured))
            if until_step is not None and header["step"] >= until_step:
                break
            if seconds is not None and now - t_start >= seconds:
                break
        await ws.send(json.dumps({"type": "pause"}))
    (t_first, s_first, _), (t_last, s_last, _) = frames[0], frames[-1]
    span = t_last - t_first
    measured_span = measured[-1][0] - measured[0][0] if len(measured) > 1 else 0.0
    return {
        # how often the measured fields (losses, grid count, geometry) were new, received
        "measured_per_s": (len(measured) - 1) / measured_span if measured_span > 0 else 0.0,
        "frames": len(frames),
        "fps": (len(frames) - 1) / span if span > 0 else 0.0,
        "steps_per_s": (s_last - s_first) / span if span > 0 else 0.0,
        "first_frame_s": t_first - t_start,
        "configure_frame_s": configure_s,
        "seconds": t_last - t_start,
        "last_step": s_last,
        "mean_frame_bytes": total_bytes / len(frames),
    }


def run_live(url: str, **kwargs) -> dict:
    return asyncio.run(live_session(url, **kwargs))


async def _sessions(url: str, count: int, seconds: float, config: dict | None, timeout: float,
                    view: dict | None = None) -> list[dict]:
    runs = [live_session(url, config=config, seconds=seconds, timeout=timeout, view=view) for _ in range(count)]
    return await asyncio.gather(*runs)


class TreeMemory:
    """Peak proportional set size (PSS) of the server and every process under it (fork server,
    session processes, geometry workers), sampled every ``every_s`` on a thread: a session in a
    process of its own shares most pages with its fork server, and PSS counts shared pages once."""

    def __init__(self, pid: int, every_s: float = 0.25):
        import psutil

        self._root, self._every = psutil.Process(pid), every_s
        self.peak_mib = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def now_mib(self) -> float:
        import psutil

        total = 0
        for p in [self._root, *self._root.children(recursive=True)]:
            try:
                total += p.memory_full_info().pss
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                pass
        return total / 2**20

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak_mib = max(self.peak_mib, self.now_mib())
            self._stop.wait(self._every)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak_mib = max(self.peak_mib, self.now_mib())


def memory(threads: int = 1, seconds: float = 8.0, sessions: int = 4, log=print) -> dict:
    """Peak memory (PSS of the server and its processes) of a fresh server: idle, with one live
    session, then with ``sessions`` at once."""
    with Server(threads=threads, max_sessions=sessions) as server:
        with TreeMemory(server.process.pid) as idle:
            time.sleep(1.0)
        log(f"  server idle: {idle.peak_mib:.0f} MiB")
        with TreeMemory(server.process.pid) as one:
            asyncio.run(_sessions(server.ws_url, 1, seconds, None, seconds + 120))
        log(f"  one live session: peak {one.peak_mib:.0f} MiB")
        with TreeMemory(server.process.pid) as many:
            runs = asyncio.run(_sessions(server.ws_url, sessions, seconds, None, seconds + 120))
        log(
            f"  {sessions} live sessions: peak {many.peak_mib:.0f} MiB "
            f"({', '.join('%.1f' % r['fps'] for r in runs)} frames/s)"
        )
    return {
        "idle_mib": idle.peak_mib,
        "one_peak_mib": one.peak_mib,
        "many_peak_mib": many.peak_mib,
        "sessions": sessions,
        "per_extra_mib": (many.peak_mib - one.peak_mib) / (sessions - 1),
    }


def default_run(pairs: int = 3, seconds: float = 5.0, bare_steps: int = 2000, threads: int = 1,
                resolution: int = 512, render: str = "server", log=print) -> dict:
    """Training under load and live delivery of the default run, as ``pairs`` paired trials.

    Each trial measures the bare loop, then a live session streaming for ``seconds`` on a
    fresh server session; the figures are the medians over the trials (the machine may be
    shared: pairing keeps each ratio's two halves close together in time).
    """
    trials = []
    with Server(threads=threads, max_sessions=1) as server:
        for i in range(pairs):
            bare = bare_training(bare_steps, threads)
            live = run_live(server.ws_url, view={"resolution": resolution, "render": render}, seconds=seconds,
                            timeout=seconds + 120)
            trials.append({"bare": bare, "live": live, "ratio": live["steps_per_s"] / bare["steps_per_s"]})
            log(
                f"  trial {i + 1}: bare {bare['steps_per_s']:.0f} steps/s; live {live['steps_per_s']:.0f} steps/s "
                f"({trials[-1]['ratio']:.2f}), {live['fps']:.1f} frames/s, first frame "
                f"{live['first_frame_s'] * 1e3:.0f} ms after start ({live['configure_frame_s'] * 1e3:.0f} ms "
                f"after configure)"
            )

    def med(values):
        return statistics.median(values)

    return {
        "resolution": resolution,
        "render": render,
        "trials": trials,
        "bare_steps_per_s": med([t["bare"]["steps_per_s"] for t in trials]),
        "live_steps_per_s": med([t["live"]["steps_per_s"] for t in trials]),
        "ratio": med([t["ratio"] for t in trials]),
        "fps": med([t["live"]["fps"] for t in trials]),
        "measured_per_s": med([t["live"]["measured_per_s"] for t in trials]),
        "first_frame_s": med([t["live"]["first_frame_s"] for t in trials]),
        "first_frame_worst_s": max(t["live"]["first_frame_s"] for t in trials),
        "configure_frame_s": med([t["live"]["configure_frame_s"] for t in trials]),
        "frame_bytes": med([t["live"]["mean_frame_bytes"] for t in trials]),
    }


def classic(steps: int = 6000, threads: int = 1, resolution: int = 512, render: str = "server", log=print) -> dict:
    """The classic experiment (default run: 14x6 on the ring) for ``steps`` steps: bare loop
    before and after, and with the live view at ``resolution``; time from start to the frame
    that shows step >= ``steps``."""
    before = bare_training(steps, threads)
    with Server(threads=threads, max_sessions=1) as server:
        live = run_live(
            server.ws_url, view={"resolution": resolution, "render": render}, until_step=steps,
            timeout=30 * before["seconds"] + 60,
        )
    after = bare_training(steps, threads)
    bare_s = (before["seconds"] + after["seconds"]) / 2
    log(
        f"  bare loop: {steps} steps in {before['seconds']:.1f} s and {after['seconds']:.1f} s; live view "
        f"({render} draws) at {resolution}^2: {live['last_step']} steps in {live['seconds']:.1f} s, {live['fps']:.1f} updates/s"
    )
    return {"steps": steps, "render": render, "bare_s": bare_s, "live_s": live["seconds"],
            "ratio": live["seconds"] / bare_s, "fps": live["fps"], "live": live}


def first_update_after_start(render: str = "client", threads: int = 1) -> float:
    """Seconds from the first ``configure`` of a freshly started server to its first update."""
    with Server(threads=threads, max_sessions=1) as server:
        return run_live(server.ws_url, view={"render": render}, seconds=0.5, timeout=60)["configure_frame_s"]


def _bare_worker(steps: int, threads: int, out) -> None:
    out.put(bare_training(steps, threads)["steps_per_s"])


def bare_loops_at_once(count: int, steps: int, threads: int = 1) -> float:
    """Summed steps/s of ``count`` bare loops run at once, one process each (the machine's capacity)."""
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=_bare_worker, args=(steps, threads, out)) for _ in range(count)]
    for p in procs:
        p.start()
    rates = [out.get(timeout=600) for _ in procs]
    for p in procs:
        p.join(60)
    return sum(rates)


def four_sessions(count: int = 4, seconds: float = 8.0, bare_steps: int = 3000, render: str = "client",
                  threads: int = 1, log=print) -> dict:
    """Summed training steps/s of ``count`` live sessions at once against ``count`` bare loops at once."""
    bare = bare_loops_at_once(count, bare_steps, threads)
    with Server(threads=threads, max_sessions=count) as server:
        runs = asyncio.run(_sessions(server.ws_url, count, seconds, None, seconds + 120, view={"render": render}))
    live = sum(r["steps_per_s"] for r in runs)
    log(f"  {count} bare loops at once: {bare:.0f} steps/s in all; {count} live sessions ({render} draws): "
        f"{live:.0f} steps/s in all ({', '.join('%.1f' % r['fps'] for r in runs)} updates/s each, grid count new "
        f"{', '.join('%.1f' % r['measured_per_s'] for r in runs)} times/s)")
    return {"sessions": count, "render": render, "bare_steps_per_s": bare, "live_steps_per_s": live,
            "ratio": live / bare, "fps": [r["fps"] for r in runs], "measured_per_s": [r["measured_per_s"] for r in runs]}


def cli_run(steps: int = 6000, frame_every: int = 50, threads: int = 1, log=print) -> dict:
    """The README's headless command: wall time against its training time (metrics' elapsed_s)."""
    import shutil

    out = Path(tempfile.mkdtemp(prefix="polytope-lens-cli-"))
    try:
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "polytope_lens.cli", "train", "ring", "--layers", "14x6", "--steps", str(steps),
                        "--frame-every", str(frame_every), "--out", str(out), "--movie", "--quiet", "--threads", str(threads)],
                       check=True, timeout=1800)
        wall = time.perf_counter() - t0
        records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    finally:
        shutil.rmtree(out, ignore_errors=True)
    training = records[-1]["elapsed_s"]
    frame_s = statistics.median(r["frame_s"] for r in records)
    log(f"  polytope-lens train ring --steps {steps} --frame-every {frame_every} --movie: {wall:.1f} s wall, "
        f"{training:.1f} s training, {len(records)} frames of {frame_s:.2f} s each (median, drawn alongside)")
    return {"steps": steps, "frames": len(records), "wall_s": wall, "training_s": training, "frame_s": frame_s,
            "ratio": wall / training, "val_loss": records[-1]["val_loss"]}


def relay_cost(seconds: float = 8.0, threads: int = 1, log=print) -> dict:
    """What the web server itself spends on one client-drawn live session (its own process's CPU,
    the session training elsewhere): in a process of this machine, and as an actor of a local Ray."""
    import psutil
    import ray

    context = ray.init(num_cpus=2, include_dashboard=False, object_store_memory=100 * 1024 * 1024,
                       log_to_driver=False, configure_logging=False)
    results = {}
    try:
        for engine, extra in (("process", {}), ("ray", {"ray_address": context.address_info["gcs_address"]})):
            with Server(threads=threads, max_sessions=1, session_engine=engine, **extra) as server:
                run_live(server.ws_url, view={"render": "client"}, seconds=1.0)  # warm: the first actor, imports
                process = psutil.Process(server.process.pid)
                before = process.cpu_times()
                t0 = time.perf_counter()
                run = run_live(server.ws_url, view={"render": "client"}, seconds=seconds)
                wall = time.perf_counter() - t0
                after = process.cpu_times()
            cpu = (after.user + after.system - before.user - before.system) / wall
            results[engine] = {"server_cpu": cpu, "fps": run["fps"], "steps_per_s": run["steps_per_s"]}
            log(f"  {engine}: the web server used {cpu * 100:.0f}% of a core relaying {run['fps']:.1f} updates/s; "
                f"the session trained {run['steps_per_s']:.0f} steps/s")
    finally:
        ray.shutdown()
    return results


if __name__ == "__main__":
    print(default_run(pairs=1))
