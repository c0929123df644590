"""Run the Flask app under gunicorn, with the timer worker in-process by default."""

from __future__ import annotations

import signal
import threading

from gunicorn.app.base import BaseApplication


class _App(BaseApplication):
    def __init__(self, options: dict, timers: bool) -> None:
        self.options = options
        self.timers = timers
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)
        self.cfg.set("post_worker_init", _with_timers if self.timers else _stop_waits_on_shutdown)

    def load(self):
        from web import create_app

        return create_app()


def _stop_waits_on_shutdown(worker) -> None:
    """When the worker is told to stop (SIGTERM: gracefully; SIGINT/SIGQUIT: at once), the engine
    hears it first (``engine.stopping``): external workers' long polls then answer at once instead
    of holding the worker's shutdown for up to their wait (30 s), which gunicorn's graceful timeout
    would cut with a reset connection."""
    engine = worker.wsgi.extensions["bpm"]
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT):
        previous = signal.getsignal(signum)
        if callable(previous):
            signal.signal(signum, _stopping_then(engine, previous))
    signal.siginterrupt(signal.SIGTERM, False)  # as gunicorn set it: active requests' system calls go on


def _stopping_then(engine, previous):
    def handler(signum, frame):
        engine.stopping.set()
        previous(signum, frame)

    return handler


def _with_timers(worker) -> None:
    _stop_waits_on_shutdown(worker)
    _start_timer_thread(worker)


def _start_timer_thread(worker) -> None:
    from engine.scheduling.timers import run_worker

    engine = worker.wsgi.extensions["bpm"]
    stop = threading.Event()
    thread = threading.Thread(target=run_worker, args=(engine, stop), name="timer-worker", daemon=True)
    thread.start()


def run_gunicorn(host: str, port: int, workers: int, threads: int, timers: bool = True) -> None:
    options = {
        "bind": f"{host}:{port}",
        "workers": workers,
        "threads": threads,
        "worker_class": "gthread" if threads > 1 else "sync",
        "accesslog": None,
        "timeout": 60,
        "graceful_timeout": 10,
        # idle keep-alive connections stay open longer than a user's think time (and than a
        # load balancer's idle timeout should be), so a client never sends on a connection
        # the server is closing at that moment (a reset the client cannot safely retry)
        "keepalive": 75,
        # gunicorn 27's control socket has one default path per user and host: with several
        # masters on a machine (bpm stack, a second app, the test servers) each would take it
        # over from the others. We do not use gunicornc; bpm stack and signals manage the server.
        "control_socket_disable": True,
    }
    _App(options, timers).run()
