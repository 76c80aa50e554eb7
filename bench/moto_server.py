"""The moto server of the cost benchmark: `scripts/moto_server.py` (DynamoDB requests
serialized under one lock) with two of moto's DynamoDB operations made to take time in
proportion to what they touch instead of to the whole table. The answers are unchanged; only
the time differs. Without this, 10,000 subscribers take hours and time the handlers out.

- Transactions: moto deep-copies every table a `TransactWriteItems` writes to, to put the copy
  back if the transaction fails, so each `$connect` (one transaction) costs time in proportion
  to the connections table. Here a transaction first saves the items it names (or that they
  are absent), runs moto's own code with the table copy skipped, and on failure puts exactly
  those items back: still all or nothing, atomically under the server's DynamoDB lock.
- Queries of a table (not of an index) with a sort key: moto walks every item of the table,
  then the whole partition, sizing each item, for every page. Here moto's own query code is
  given only the items of the queried partition whose sort key meets the key condition: the
  same items, in the same order, with the same paging.
- Query answers: moto's generic, model-driven response serializer takes about a second for a
  page of 500 items. A `Query` answer is already DynamoDB JSON, so it is written with
  `json.dumps` instead.

Usage: python bench/moto_server.py HOST PORT
"""

import base64
import copy
import json
import os
import runpy
import sys

import moto.dynamodb.models as models
import moto.dynamodb.responses as responses


class _CopyWithoutTables:
    """`copy` as `moto.dynamodb.models` sees it: tables are not deep-copied."""

    def __getattr__(self, name):
        return getattr(copy, name)

    @staticmethod
    def deepcopy(value, memo=None):
        if isinstance(value, models.Table):
            return value
        return copy.deepcopy(value, memo)


_transact_write_items = models.DynamoDBBackend.transact_write_items


def _key_of(table, op):
    if "Item" in op:
        item = op["Item"]
        key = {table.hash_key_attr: item[table.hash_key_attr]}
        if table.range_key_attr is not None:
            key[table.range_key_attr] = item[table.range_key_attr]
        return key
    return op.get("Key")


def transact_write_items(self, transact_items):
    saved = []
    for entry in transact_items:
        for _, op in list(entry.items())[:1]:
            table = self.tables.get(op.get("TableName"))
            if table is None:
                continue
            try:
                key = _key_of(table, op)
                current = self.get_item(op["TableName"], key) if key else None
            except Exception:  # noqa: BLE001 - moto's own code reports the error
                continue
            attrs = copy.deepcopy(current.to_json()["Attributes"]) if current else None
            saved.append((op["TableName"], key, attrs))
    try:
        return _transact_write_items(self, transact_items)
    except Exception:
        for table_name, key, attrs in reversed(saved):
            try:
                if attrs is None:
                    self.delete_item(table_name, key)
                else:
                    self.put_item(table_name, attrs)
            except Exception:  # noqa: BLE001 - restore what can be restored
                pass
        raise


_query = models.Table.query


def query(self, hash_key, range_comparison, range_objs, *args, **kwargs):
    index_name = kwargs.get("index_name", args[4] if len(args) > 4 else None)
    if index_name or hash_key is None or not self.range_key_attr:
        return _query(self, hash_key, range_comparison, range_objs, *args, **kwargs)
    partition = self.items.get(hash_key) or {}
    candidates = list(partition.values())
    if range_comparison:
        candidates = [i for i in candidates if i.range_key.compare(range_comparison, range_objs)]
    # moto's query takes its candidates from all_items(): for this call, only these.
    self.all_items = lambda: candidates
    try:
        return _query(self, hash_key, range_comparison, range_objs, *args, **kwargs)
    finally:
        del self.all_items


_handler_query = responses.DynamoHandler.query


def _json_default(value):
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(bytes(value)).decode("ascii")
    return str(value)


def handler_query(self):
    result = _handler_query(self)
    body = json.dumps(result.result, default=_json_default, separators=(",", ":"))
    return body, {"status": 200, "content-type": "application/x-amz-json-1.0"}


models.copy = _CopyWithoutTables()
responses.DynamoHandler.query = handler_query
models.Table.query = query
models.DynamoDBBackend.transact_write_items = transact_write_items

if __name__ == "__main__":
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts", "moto_server.py")
    sys.argv = [script] + sys.argv[1:]
    runpy.run_path(script, run_name="__main__")
