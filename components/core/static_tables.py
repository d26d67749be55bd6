"""Static vocabulary lookups rebuilt as LiteRT builtin hash tables (placement 'embedded').

Freezing leaves a lookup table (Keras `StringLookup` / `IntegerLookup`, `tf.lookup.StaticHashTable`,
a tf.Transform vocabulary) as a DT_RESOURCE input of the graph: its contents come from a vocabulary
file or an initializer the converter never sees, so converted as it is, the table would be empty.
A table whose every use is a lookup (`LookupTableFindV2`, `LookupTableSizeV2`) in the graph itself
is read off its live handle and rebuilt from constants; LiteRT converts that into its builtin
HASHTABLE / HASHTABLE_IMPORT / HASHTABLE_FIND ops, with the contents inside the .tflite. The
parity check then compares the derived model with the SavedModel on the pipeline's examples.

Key and value types are LiteRT's (string -> int64, int64 -> string). A table used inside a function
body, a mutable table, or an out-of-vocabulary hash bucket (`StringToHashBucketFast`, not a table)
is not rebuilt; graph_cut refuses it by name.
"""

from __future__ import annotations

import hashlib
from typing import Mapping

import numpy as np
import tensorflow as tf

from tfx_edge.components.core import graph_scan

LOOKUP_OPS = ("LookupTableFindV2", "LookupTableSizeV2")
PASS_THROUGH = ("Identity",)
# (key, value) dtypes LiteRT's builtin hash table kernels take
BUILTIN_TYPES = frozenset({(tf.string, tf.int64), (tf.int64, tf.string)})


def rebuild(graph_def, resources: Mapping[str, tf.Tensor]) -> dict[str, tf.lookup.StaticHashTable]:
    """Resource placeholder name -> a StaticHashTable with the live table's contents (sorted by key,
    so the same table gives the same bytes), for each table LiteRT's builtin ops can hold."""
    uses = _uses(graph_def)
    out = {}
    for name, handle in sorted(resources.items()):
        types = _lookup_types(name, uses)
        if types is None or types not in BUILTIN_TYPES:
            continue
        contents = _export(handle, *types)
        if contents is not None:
            out[name] = tf.lookup.StaticHashTable(_Contents(*contents), default_value=_default(types[1]))
    return out


class _Contents(tf.lookup.KeyValueTensorInitializer):
    """Constant contents whose table is named by a digest of them: LiteRT derives HASHTABLE's
    table_id from the name, and TensorFlow would name it by a random uuid (different bytes each
    time). Tables with the same name share one resource in a process: the same contents."""

    def __init__(self, keys: tf.Tensor, values: tf.Tensor):
        super().__init__(keys, values)
        digest = hashlib.sha256()
        for array in (keys.numpy(), values.numpy()):
            digest.update(f"{array.dtype}|{array.shape}|".encode())
            if array.dtype == object:   # strings, each length-prefixed
                for value in array:
                    digest.update(len(value).to_bytes(8, "little") + bytes(value))
            else:
                digest.update(array.tobytes())
        self._digest = digest.hexdigest()[:24]

    @property
    def _shared_name(self) -> str:
        return f"tfx_edge_table_{self._digest}"


def lookup_of(graph_def) -> dict[str, str]:
    """Lookup node name -> the resource placeholder its table comes from (through Identity)."""
    nodes = {n.name: n for n in graph_def.node}
    found = {}
    for node in graph_def.node:
        if node.op in LOOKUP_OPS and node.input:
            source = nodes.get(graph_scan.node_of(node.input[0]))
            while source is not None and source.op in PASS_THROUGH and source.input:
                source = nodes.get(graph_scan.node_of(source.input[0]))
            if source is not None and graph_scan.is_resource_placeholder(source):
                found[node.name] = source.name
    return found


def pin_shapes(graph_def, rebuilt) -> None:
    """Reshapes each lookup of a rebuilt table to its keys' shape, in place. TF's int8 calibrator
    (tf.lite's calibration wrapper) leaves HASHTABLE_FIND's output a scalar, so the ops after it
    see the wrong shape (a RESHAPE fails); the interpreter gives the keys' shape, where this
    RESHAPE changes nothing. Applied before the cut, so the parity check covers it."""
    tables = lookup_of(graph_def)
    finds = [n for n in graph_def.node if n.op == "LookupTableFindV2" and tables.get(n.name) in rebuilt]
    for find in finds:
        shape = graph_def.node.add(name=f"{find.name}/tfx_edge_keys_shape", op="Shape", input=[find.input[1]])
        shape.attr["T"].type = find.attr["Tin"].type
        shape.attr["out_type"].type = tf.int32.as_datatype_enum
        pinned = graph_def.node.add(name=f"{find.name}/tfx_edge_pinned", op="Reshape", input=[find.name, shape.name])
        pinned.attr["T"].type = find.attr["Tout"].type
        pinned.attr["Tshape"].type = tf.int32.as_datatype_enum
        for node in graph_def.node:
            if node.name != pinned.name:
                node.input[:] = [pinned.name if i in (find.name, find.name + ":0") else i for i in node.input]


def _uses(graph_def) -> dict[str, list]:
    """Node name -> the nodes reading its outputs (data edges)."""
    uses: dict[str, list] = {}
    for node in graph_def.node:
        for inp in graph_scan.data_inputs(node):
            uses.setdefault(graph_scan.node_of(inp), []).append(node)
    return uses


def _lookup_types(name: str, uses: dict[str, list]) -> tuple[tf.DType, tf.DType] | None:
    """(key, value) dtypes of the table at placeholder `name` if every use is a lookup of the
    graph itself (through Identity), else None."""
    types, stack, seen = set(), [name], set()
    while stack:
        current = stack.pop()
        for node in uses.get(current, ()):
            if node.name in seen:
                continue
            seen.add(node.name)
            if node.op in PASS_THROUGH:
                stack.append(node.name)
            elif node.op == "LookupTableFindV2":
                types.add((tf.as_dtype(node.attr["Tin"].type), tf.as_dtype(node.attr["Tout"].type)))
            elif node.op != "LookupTableSizeV2":
                return None   # a call (the table used in a function body), an export, an insert ...
    return next(iter(types)) if len(types) == 1 else None


def _export(handle: tf.Tensor, key_dtype: tf.DType, value_dtype: tf.DType):
    """(keys, values) of the live table sorted by key, or None when the handle is not a table
    that can export (a mutable or dense table, a variable)."""
    try:
        keys, values = tf.raw_ops.LookupTableExportV2(table_handle=handle, Tkeys=key_dtype, Tvalues=value_dtype)
    except (tf.errors.InvalidArgumentError, tf.errors.UnimplementedError, tf.errors.NotFoundError):
        return None
    keys, values = keys.numpy(), values.numpy()
    order = np.argsort(keys, kind="stable")
    return tf.constant(keys[order], key_dtype), tf.constant(values[order], value_dtype)


def _default(dtype: tf.DType):
    """The rebuilt table's own default: never used, each lookup node passes the graph's default."""
    return "" if dtype == tf.string else -1
