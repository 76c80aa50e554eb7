"""The moto server of the cost benchmark: `scripts/moto_server.py` (DynamoDB requests
serialized under one lock) with transactions whose rollback backs up only the items they touch.

moto's `transact_write_items` deep-copies every table a transaction writes to before running
it, so that it can put the copy back if the transaction fails. Each transaction therefore takes
time in proportion to its tables: with thousands of connections (every `$connect` writes one
transaction) moto spends minutes per thousand, and `$connect` times out. Here a transaction
first saves the current state of each item it names (or that the item is absent), runs moto's
own code with the table copy skipped, and on failure puts exactly those items back. The result
of a transaction (all of it or none of it, atomically under the server's DynamoDB lock) and
every answer are unchanged; only the time differs.

Usage: python bench/moto_server.py HOST PORT
"""

import copy
import os
import runpy
import sys

import moto.dynamodb.models as models


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


models.copy = _CopyWithoutTables()
models.DynamoDBBackend.transact_write_items = transact_write_items

if __name__ == "__main__":
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts", "moto_server.py")
    sys.argv = [script] + sys.argv[1:]
    runpy.run_path(script, run_name="__main__")
