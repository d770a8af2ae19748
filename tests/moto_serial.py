"""moto_server for the tests, handling one request at a time.

moto's own server is threaded, and its DynamoDB backend checks a condition and then writes in
separate steps: under load, two concurrent conditional writes to one item can both succeed
(seen: 2 of 1,500 racing claims). DynamoDB serialises writes to an item and evaluates the
condition atomically, so the tests run moto's application behind one lock: connections stay
threaded (keep-alive works), each request's work is done whole.

Transactions save and restore only the items they write (moto copies whole tables; see
`_TablesUncopied`): the same all-or-nothing outcome, in time that does not grow with the table.

Usage: python moto_serial.py -H 127.0.0.1 -p PORT
"""

import argparse
import copy
import os
import threading

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import run_simple

import moto.dynamodb.models as dynamodb_models
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.table import Table


class _TablesUncopied:
    """moto's DynamoDB backend saves every table a transaction touches (a deep copy, once per
    item) to roll back on failure: with the scale bench's tables that is seconds per
    transaction. During a transaction it sees this instead of the copy module: tables are not
    copied (`_transact` saves and restores the items the transaction touches), anything else
    is."""

    @staticmethod
    def deepcopy(x, memo=None):
        return x if isinstance(x, Table) else copy.deepcopy(x, memo)


def _touched(backend, transact_items):
    """(table, hash key, range key, a copy of the item or None) for each item written."""
    saved = []
    for entry in transact_items:
        _, op = next(iter(entry.items()))
        table = backend.get_table(op["TableName"])
        key = op.get("Key") or op["Item"]
        hash_key = DynamoType(key[table.hash_key_attr])
        range_key = (
            DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
        )
        item = table.get_item(hash_key, range_key)
        saved.append((table, hash_key, range_key, copy.deepcopy(item)))
    return saved


def _restore(saved):
    for table, hash_key, range_key, item in reversed(saved):
        if range_key is None:
            if item is None:
                table.items.pop(hash_key, None)
            else:
                table.items[hash_key] = item
        elif item is None:
            table.items.get(hash_key, {}).pop(range_key, None)
        else:
            table.items[hash_key][range_key] = item


_transact_write_items = dynamodb_models.DynamoDBBackend.transact_write_items


def _transact(self, transact_items):
    try:
        saved = _touched(self, transact_items)
    except Exception:
        # A malformed request: moto's own code says what is wrong with it.
        return _transact_write_items(self, transact_items)
    dynamodb_models.copy = _TablesUncopied
    try:
        return _transact_write_items(self, transact_items)
    except Exception:
        _restore(saved)
        raise
    finally:
        dynamodb_models.copy = copy


dynamodb_models.DynamoDBBackend.transact_write_items = _transact


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
