"""The local AWS endpoint for tests: moto server, one request at a time.

moto applies a DynamoDB transaction item by item, so two requests served at
once could interleave inside a transaction; real DynamoDB never lets that
show. Serving one request at a time gives the same atomicity the store
relies on, while the tests still send their requests concurrently.

moto also backs up every table a transaction touches, once for each of
its items, to roll a failed transaction back, and answers a query of the
table by sorting every item of the table: a request's cost grows with the
size of its table, so a test that keeps months of a plate's history would
slow to seconds a request. `cheap_rollback` backs up the items the
transaction touches instead, and restores them on failure;
`partition_queries` has a query of the table look at its partition alone.
The same answers, at a cost that does not grow with the table.

moto reports a fixed capacity for every read (one unit a query, half a
unit a get, one a key in a batch get), whatever it read. `read_capacity`
reports what DynamoDB charges instead: a query the size of the items it
read, together, rounded up to 4 KB; a get, and each item of a batch get,
its item's size rounded up to 4 KB; one unit per 4 KB strongly
consistent, half eventually. Sizes are of whole items, as DynamoDB
charges them whatever is projected (an index's items are what it
projects).

Usage: python scripts/local_aws.py PORT
"""

import copy
import math
import signal
import sys
import types

import moto.dynamodb.models as dynamodb_models
import moto.dynamodb.responses as dynamodb_responses

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import run_simple


def cheap_rollback() -> None:
    """Transactions back up the items they touch, not whole tables."""
    backend = dynamodb_models.DynamoDBBackend
    if getattr(backend, "_cheap_rollback", False):
        return
    real_deepcopy = copy.deepcopy

    def deepcopy(obj, memo=None):
        # The whole-table backup becomes the table itself; the items the
        # transaction touches are saved below.
        if isinstance(obj, dynamodb_models.Table):
            return obj
        return real_deepcopy(obj, memo)

    dynamodb_models.copy = types.SimpleNamespace(deepcopy=deepcopy, copy=copy.copy)
    original = backend.transact_write_items

    def transact_write_items(self, transact_items):
        saved = []
        for entry in transact_items:
            try:
                op_type, op = next(iter(entry.items()))
                name = op["TableName"]
                if name not in self.tables:
                    continue
                table = self.tables[name]
                if op_type == "Put":
                    attrs = op["Item"]
                    key = {table.hash_key_attr: attrs[table.hash_key_attr]}
                    if table.range_key_attr is not None:
                        key[table.range_key_attr] = attrs[table.range_key_attr]
                else:
                    key = op["Key"]
                current = self.get_item(name, key)
            except Exception:  # the transaction itself reports it
                continue
            before = real_deepcopy(current.to_json()["Attributes"]) if current else None
            saved.append((name, key, before))
        try:
            return original(self, transact_items)
        except Exception:
            # Back as they were, the first saved copy of an item last.
            for name, key, before in reversed(saved):
                table = self.tables[name]
                if before is None:
                    table.delete_item(*self.get_keys_value(table, key))
                else:
                    table.put_item(before)
            raise

    backend.transact_write_items = transact_write_items
    backend._cheap_rollback = True


def partition_queries() -> None:
    """A query of the table (not of an index) reads its partition alone."""
    table_class = dynamodb_models.Table
    if getattr(table_class, "_partition_queries", False):
        return
    original = table_class.query

    def query(self, hash_key, *args, **kwargs):
        index_name = kwargs.get("index_name")
        if index_name is None and len(args) >= 7:
            index_name = args[6]
        if index_name is not None or hash_key is None:
            return original(self, hash_key, *args, **kwargs)
        partition = self.items.get(hash_key)
        if partition is None:
            mine = []
        elif self.range_key_attr:
            mine = list(partition.values())
        else:
            mine = [partition]
        self.all_items = lambda: sorted(
            mine, key=lambda x: (x.hash_key, x.range_key) if x.range_key else x.hash_key
        )
        try:
            return original(self, hash_key, *args, **kwargs)
        finally:
            del self.all_items

    table_class.query = query
    table_class._partition_queries = True


def read_capacity() -> None:
    """Reads report the capacity DynamoDB's rules give them."""
    backend = dynamodb_models.DynamoDBBackend
    handler = dynamodb_responses.DynamoHandler
    if getattr(handler, "_read_capacity", False):
        return
    read = {"bytes": 0}

    def whole(table, item):
        """The size of the stored item a returned (projected) one is of."""
        stored = table.get_item(item.hash_key, item.range_key)
        return (stored or item).size()

    def units(size, consistent):
        blocks = max(1, math.ceil(size / 4096))
        return blocks * (1.0 if consistent else 0.5)

    original_query = backend.query

    def query(self, table_name, *args, **kwargs):
        items, scanned, last = original_query(self, table_name, *args, **kwargs)
        index_name = kwargs.get("index_name")
        table = self.get_table(table_name)
        read["bytes"] = sum(
            item.size() if index_name else whole(table, item) for item in items
        )
        return items, scanned, last

    backend.query = query

    def report(body, value):
        consumed = body.get("ConsumedCapacity")
        if isinstance(consumed, dict):
            consumed["CapacityUnits"] = value
            if "Table" in consumed:
                consumed["Table"]["CapacityUnits"] = value

    handler_query = handler.query

    def query_handler(self):
        read["bytes"] = 0
        result = handler_query(self)
        report(result.result, units(read["bytes"], self.body.get("ConsistentRead", False)))
        return result

    handler.query = query_handler

    handler_get = handler.get_item

    def get_handler(self):
        result = handler_get(self)
        table = self.dynamodb_backend.get_table(self.body["TableName"])
        hash_key, range_key = self.dynamodb_backend.get_keys_value(table, self.body["Key"])
        stored = table.get_item(hash_key, range_key)
        size = stored.size() if stored else 0
        report(result.result, units(size, self.body.get("ConsistentRead", False)))
        return result

    handler.get_item = get_handler

    handler_batch = handler.batch_get_item

    def batch_handler(self):
        result = handler_batch(self)
        body = result.result
        for consumed in body.get("ConsumedCapacity", []):
            name = consumed.get("TableName")
            request = self.body["RequestItems"].get(name, {})
            consistent = request.get("ConsistentRead", False)
            table = self.dynamodb_backend.get_table(name)
            total = 0.0
            for key in request.get("Keys", []):
                hash_key, range_key = self.dynamodb_backend.get_keys_value(table, key)
                stored = table.get_item(hash_key, range_key)
                total += units(stored.size() if stored else 0, consistent)
            consumed["CapacityUnits"] = total
        return result

    handler.batch_get_item = batch_handler
    handler._read_capacity = True


def main() -> None:
    cheap_rollback()
    partition_queries()
    read_capacity()
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
