# Runs moto's server with DynamoDB requests serialised.
#
# moto's own server (python -m moto.server) handles requests on threads without a lock, so two
# concurrent conditional writes on one item can both pass their condition: real DynamoDB never
# allows that, and Pilotdesk's exactly-once rules are built on it. Serialising DynamoDB calls
# restores the guarantee; SQS long polls and the rest stay concurrent.
import copy
import os
import sys
import threading

from werkzeug.serving import run_simple
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
