"""Run the Flask app under gunicorn, with the timer worker in-process by default."""

from __future__ import annotations

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
        if self.timers:
            self.cfg.set("post_worker_init", _start_timer_thread)

    def load(self):
        from web import create_app

        return create_app()


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
