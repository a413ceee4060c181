"""Runs moto's AWS emulator for one test process and dies with it.

Usage: moto_launcher.py PORT   (started by tests/support/moto.rs with the
virtualenv's python; PORT must be a free loopback port, moto refuses 0).

Prints `READY <port>` on stdout once the server answers HTTP. Exits by itself
when its parent process dies or when its stdin closes (the parent holds the
write end, so the OS closes it when the parent exits, even on SIGKILL): no
moto process outlives the test run. Started with stdin at EOF (e.g.
`</dev/null`), it exits at once.
"""

import logging
import os
import sys
import threading
import time
import traceback
import urllib.request


def exit_on_thread_error(args):
    # If moto's server thread cannot bind the port, werkzeug raises SystemExit
    # there, which Python's default hook ignores, and ThreadedMotoServer.start()
    # would wait forever: fail fast instead.
    traceback.print_exception(args.exc_type, args.exc_value, args.exc_traceback)
    os._exit(1)


def exit_when_stdin_closes():
    sys.stdin.buffer.read()  # nobody writes: returns at EOF
    os._exit(0)


def exit_when_orphaned(parent):
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(0)


def main():
    port = int(sys.argv[1])
    threading.excepthook = exit_on_thread_error
    threading.Thread(target=exit_when_stdin_closes, daemon=True).start()
    threading.Thread(target=exit_when_orphaned, args=(os.getppid(),), daemon=True).start()

    from moto.server import ThreadedMotoServer  # slow import: after the watchers

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no per-request lines
    ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False).start()

    # start() returns once the socket is bound; wait until requests are served.
    url = f"http://127.0.0.1:{port}/moto-api/"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(url, timeout=5).close()
            break
        except OSError as err:
            if time.monotonic() > deadline:
                sys.exit(f"moto did not answer on {url} within 30 s: {err}")
            time.sleep(0.1)
    print(f"READY {port}", flush=True)
    threading.Event().wait()  # serve until a watcher ends the process


if __name__ == "__main__":
    main()
