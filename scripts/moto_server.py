"""Runs moto's server for Banter's tests, with DynamoDB requests serialized.

moto's stock server (`moto_server`) handles requests on many threads, but its DynamoDB backend is
not thread-safe: concurrent conditional writes and transactions race inside moto (lost updates,
"dictionary changed size during iteration" 500s). Real DynamoDB makes every conditional write and
transaction atomic, and Banter's invariants (exact like counts, gap-free positions) depend on
that. This launcher runs the same moto application with one lock around DynamoDB requests, so moto
behaves as an atomic (if slow) DynamoDB. Other services (SQS long polls) stay concurrent.

Usage: python scripts/moto_server.py HOST PORT
"""

import os
import sys
import threading

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import run_simple

_dynamodb_lock = threading.Lock()


def main() -> None:
    host, port = sys.argv[1], int(sys.argv[2])
    os.environ.setdefault("MOTO_PORT", str(port))
    moto_app = DomainDispatcherApplication(create_backend_app)

    def app(environ, start_response):
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if not target.startswith("DynamoDB"):
            return moto_app(environ, start_response)
        with _dynamodb_lock:
            # Run the request and read its whole body while holding the lock.
            body = moto_app(environ, start_response)
            try:
                return [b"".join(body)]
            finally:
                close = getattr(body, "close", None)
                if close is not None:
                    close()

    run_simple(host, port, app, threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
