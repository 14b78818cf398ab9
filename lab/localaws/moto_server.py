# Runs moto's server with DynamoDB requests serialised.
#
# moto's own server (python -m moto.server) handles requests on threads without a lock, so two
# concurrent conditional writes on one item can both pass their condition: real DynamoDB never
# allows that, and Pilotdesk's exactly-once rules are built on it. Serialising DynamoDB calls
# restores the guarantee; SQS long polls and the rest stay concurrent.
import os
import sys
import threading

from werkzeug.serving import run_simple
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

host, port = sys.argv[1], int(sys.argv[2])
os.environ.setdefault("MOTO_PORT", str(port))
app = DomainDispatcherApplication(create_backend_app)
lock = threading.Lock()


def serialised(environ, start_response):
    if environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB"):
        with lock:
            return [b"".join(app(environ, start_response))]
    return app(environ, start_response)


run_simple(host, port, serialised, threaded=True)
