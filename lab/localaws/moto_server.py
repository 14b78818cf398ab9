# Runs moto's server with DynamoDB requests serialised.
#
# moto's own server (python -m moto.server) handles requests on threads without a lock, so two
# concurrent conditional writes on one item can both pass their condition: real DynamoDB never
# allows that, and Pilotdesk's exactly-once rules are built on it. Serialising DynamoDB calls
# restores the guarantee; SQS long polls and the rest stay concurrent.
import copy
import io
import os
import socket
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

# moto backs a transaction up by deep-copying every table it touches, so one TransactWriteItems
# costs time in proportion to the table (a second and more once a backfill has written a few
# thousand links), where DynamoDB's cost is per item. The backup here holds the items the
# transaction names, and a refused transaction puts exactly those back: the same
# all-or-nothing result, at DynamoDB's cost. (DynamoDB calls are serialised below, so nothing
# else writes in between.)
from moto.dynamodb import models as ddb_models
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.table import Table


class _NoTableCopy:
    def __getattr__(self, name):
        return getattr(copy, name)

    @staticmethod
    def deepcopy(x, memo=None):
        return x if isinstance(x, Table) else copy.deepcopy(x, memo)


ddb_models.copy = _NoTableCopy()
_transact_write_items = ddb_models.DynamoDBBackend.transact_write_items


def _transact_key(table, op_type, op):
    if op_type == "Put":
        attrs = op.get("Item") or {}
        names = [table.hash_key_attr] + ([table.range_key_attr] if table.range_key_attr else [])
        return {n: attrs[n] for n in names if n in attrs}
    return op.get("Key")


def transact_write_items(self, transact_items):
    saved = []
    for entry in transact_items:
        op_type, op = next(iter(entry.items()))
        table = self.tables.get(op.get("TableName"))
        key = _transact_key(table, op_type, op) if table is not None else None
        if not key or table.hash_key_attr not in key or (table.range_key_attr and table.range_key_attr not in key):
            continue
        h = DynamoType(key[table.hash_key_attr])
        r = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
        saved.append((table, h, r, copy.deepcopy(table.get_item(h, r))))
    try:
        return _transact_write_items(self, transact_items)
    except BaseException:
        for table, h, r, old in reversed(saved):
            if old is None:
                table.delete_item(h, r)
            elif r is not None:
                table.items[h][r] = old
            else:
                table.items[h] = old
        raise


ddb_models.DynamoDBBackend.transact_write_items = transact_write_items

# moto answers a Query by sorting every item of the table and keeping the partition's (or the
# index key's) matches: a cost in proportion to the table, where DynamoDB's is in proportion
# to what the query reads. A sidebar answer or a connection read took 15 ms and more once a
# sync had written a few hundred items. Within a query, the table's items are the queried
# partition's alone (a main-table query: the same matches), or every item unsorted (an index
# query sorts what it keeps, by keys that leave no ties): the same answer, at DynamoDB's cost.
_query_scope = threading.local()
_all_items = Table.all_items


def _scoped_all_items(self):
    scope = getattr(_query_scope, "scope", None)
    if scope is None:
        return _all_items(self)
    items = self.items
    if scope is not _EVERY:
        if scope not in items:  # `in`: the defaultdict would add the key
            return []
        part = items[scope]
        return list(part.values()) if self.range_key_attr else [part]
    out = []
    for hash_set in items.values():
        out.extend(hash_set.values() if self.range_key_attr else [hash_set])
    return out


_EVERY = object()
_query = Table.query


def _scoped_query(self, hash_key, *args, **kwargs):
    index_name = kwargs.get("index_name", args[6] if len(args) > 6 else None)
    _query_scope.scope = _EVERY if index_name or hash_key is None else hash_key
    try:
        return _query(self, hash_key, *args, **kwargs)
    finally:
        _query_scope.scope = None


Table.all_items = _scoped_all_items
Table.query = _scoped_query

host, port = sys.argv[1], int(sys.argv[2])
os.environ.setdefault("MOTO_PORT", str(port))
app = DomainDispatcherApplication(create_backend_app)
lock = threading.Lock()


def serialised(environ, start_response):
    if environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB"):
        with lock:
            return [b"".join(app(environ, start_response))]
    return app(environ, start_response)


# werkzeug's development server answers every request with Connection: close (and then waits
# 10 ms for a request body nobody sends), so every AWS SDK call dialled a new connection: CPU
# and wake-ups a Lambda talking to DynamoDB, which keeps its connections, never spends. This
# small HTTP/1.1 server keeps them: one thread per connection, requests read by Content-Length
# (or chunks), answers written whole with a Content-Length and TCP_NODELAY, so nothing waits
# on Nagle's algorithm. PILOTDESK_MOTO_CLOSE=1 brings back one connection per call.
class KeepAliveHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self):
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, *args):
        pass

    def _body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _serve(self):
        body = self._body()
        path, _, query = self.path.partition("?")
        environ = {
            "REQUEST_METHOD": self.command,
            "SCRIPT_NAME": "",
            "PATH_INFO": urllib.parse.unquote(path, "latin-1"),
            "RAW_URI": self.path,
            "REQUEST_URI": self.path,
            "QUERY_STRING": query,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "SERVER_NAME": host,
            "SERVER_PORT": str(port),
            "SERVER_PROTOCOL": self.request_version,
            "REMOTE_ADDR": self.client_address[0],
            "REMOTE_PORT": self.client_address[1],
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
        }
        for k, v in self.headers.items():
            k = k.upper().replace("-", "_")
            if k in ("CONTENT_TYPE", "CONTENT_LENGTH"):
                continue
            k = "HTTP_" + k
            environ[k] = environ[k] + "," + v if k in environ else v
        status_headers = []

        def start_response(status, headers, exc_info=None):
            status_headers[:] = [status, headers]
            return lambda data: chunks.append(data)

        chunks = []
        result = serialised(environ, start_response)
        try:
            for data in result:
                chunks.append(data)
        finally:
            if hasattr(result, "close"):
                result.close()
        out = b"".join(chunks)
        status, headers = status_headers
        close = os.environ.get("PILOTDESK_MOTO_CLOSE") == "1" or self.headers.get("Connection", "").lower() == "close"
        head = ["HTTP/1.1 " + status]
        for k, v in headers:
            if k.lower() not in ("content-length", "connection", "transfer-encoding"):
                head.append(k + ": " + v)
        head.append("Content-Length: " + str(len(out)))
        if close:
            head.append("Connection: close")
            self.close_connection = True
        if self.command == "HEAD":
            out = b""
        self.wfile.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + out)
        self.wfile.flush()

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = _serve


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128


Server((host, port), KeepAliveHandler).serve_forever()
