"""The local AWS endpoint for tests: moto server, one request at a time.

moto applies a DynamoDB transaction item by item, so two requests served at
once could interleave inside a transaction; real DynamoDB never lets that
show. Serving one request at a time gives the same atomicity the store
relies on, while the tests still send their requests concurrently.

Usage: python scripts/local_aws.py PORT
"""

import signal
import sys

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import run_simple


def main() -> None:
    port = int(sys.argv[1])
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(
        "127.0.0.1",
        port,
        app,
        threaded=False,
        request_handler=MotoRequestHandler,
    )


if __name__ == "__main__":
    main()
