"""moto_server for the tests, handling one request at a time.

moto's own server is threaded, and its DynamoDB backend checks a condition and then writes in
separate steps: under load, two concurrent conditional writes to one item can both succeed
(seen: 2 of 1,500 racing claims). DynamoDB serialises writes to an item and evaluates the
condition atomically, so the tests run moto's application behind one lock: connections stay
threaded (keep-alive works), each request's work is done whole.

Usage: python moto_serial.py -H 127.0.0.1 -p PORT
"""

import argparse
import os
import threading

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import run_simple


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, required=True)
    args = parser.parse_args()
    os.environ.setdefault("MOTO_PORT", str(args.port))
    app = DomainDispatcherApplication(create_backend_app)
    lock = threading.Lock()

    def serial(environ, start_response):
        with lock:
            # The whole response is produced inside the lock.
            return list(app(environ, start_response))

    run_simple(
        args.host,
        args.port,
        serial,
        threaded=True,
        request_handler=MotoRequestHandler,
    )


if __name__ == "__main__":
    main()
