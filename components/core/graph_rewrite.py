"""Builtin rewrites of ops LiteRT's builtin set lacks, on a frozen GraphDef (before the cut).

DenseBincount (Keras `CategoryEncoding` in its multi-hot and count modes, its one-hot mode needs no
rewrite; tf.math.bincount with a fixed length) becomes OneHot followed by a reduction over the ids' axis: Max for
binary_output (present or not), Sum otherwise (weighted by the weights input when it has one).
The node keeps its name, so every consumer reads the rewrite. Ids outside [0, size) count
nowhere, as in TensorFlow's kernel on ids it accepts. The exporter's parity check (float32 TFLite
against the Trainer's own signature) verifies every rewrite on the pipeline's own examples; it
also catches the one guess made here, the output rank when the graph does not record it (2).

UpperBound / LowerBound (tf.searchsorted: tf.Transform's apply_buckets / bucketize) become a count of
the boundaries at or below (UpperBound) or below (LowerBound) each value: ExpandDims both sides, a
LessEqual / Less comparison, Cast and Sum over the boundaries' axis, builtin ops all.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf
from tensorflow.core.framework import attr_value_pb2

from tfx_edge.components.core.graph_cut import DeriveError

BOUND_COMPARISONS = {"UpperBound": "LessEqual", "LowerBound": "Less"}   # boundary <= / < value
REWRITTEN_OPS = ("DenseBincount", *BOUND_COMPARISONS)


def rewrite(graph_def) -> tuple[object, dict[str, int]]:
    """(a copy of graph_def with every rewritable node replaced, {op: nodes rewritten})."""
    out = type(graph_def)()
    out.CopyFrom(graph_def)
    nodes = {n.name: n for n in out.node}
    found = [n for n in out.node if n.op in REWRITTEN_OPS]
    counts: dict[str, int] = {}
    for node in found:
        counts[node.op] = counts.get(node.op, 0) + 1
        if node.op in BOUND_COMPARISONS:
            _bound(out, node)
        else:
            _bincount(out, nodes, node)
    return out, counts


def _bound(graph_def, node) -> None:
    """UpperBound(sorted [B, K], values [B, N]) = sum over k of (sorted[b, k] <= values[b, n]);
    LowerBound with <. The node keeps its name."""
    boundaries, values = (i for i in node.input if not i.startswith("^"))
    name, dtype, out_type = node.name, node.attr["T"].type, node.attr["out_type"].type
    sides = []
    for side, tensor, dim in (("boundaries", boundaries, 1), ("values", values, -1)):
        at = _add_const(graph_def, f"{name}/tfx_edge_{side}_axis", np.array(dim, np.int32))
        expanded = graph_def.node.add(name=f"{name}/tfx_edge_{side}", op="ExpandDims", input=[tensor, at])
        expanded.attr["T"].type = dtype
        expanded.attr["Tdim"].type = tf.int32.as_datatype_enum
        sides.append(expanded.name)
    compared = graph_def.node.add(name=f"{name}/tfx_edge_compare", op=BOUND_COMPARISONS[node.op], input=sides)
    compared.attr["T"].type = dtype
    counted = graph_def.node.add(name=f"{name}/tfx_edge_count", op="Cast", input=[compared.name])
    counted.attr["SrcT"].type = tf.bool.as_datatype_enum
    counted.attr["DstT"].type = out_type
    last = _add_const(graph_def, f"{name}/tfx_edge_axis", np.array(-1, np.int32))
    node.Clear()
    node.name, node.op = name, "Sum"
    node.input.extend([counted.name, last])
    node.attr["T"].type = out_type
    node.attr["Tidx"].type = tf.int32.as_datatype_enum
    node.attr["keep_dims"].b = False


def _bincount(graph_def, nodes: dict, node) -> None:
    ids, size, weights = (i for i in node.input if not i.startswith("^"))
    depth = _const(nodes, size, node.name, "size")
    rank = _rank(node)
    dtype, name, binary = node.attr["T"].type, node.name, bool(node.attr["binary_output"].b)
    numpy_dtype = tf.as_dtype(dtype).as_numpy_dtype
    ones = _add_const(graph_def, f"{name}/tfx_edge_on", np.ones((), numpy_dtype))
    zeros = _add_const(graph_def, f"{name}/tfx_edge_off", np.zeros((), numpy_dtype))
    depth_node = _add_const(graph_def, f"{name}/tfx_edge_depth", np.array(int(depth), np.int32))
    one_hot = graph_def.node.add(name=f"{name}/tfx_edge_one_hot", op="OneHot",
                                 input=[ids, depth_node, ones, zeros])
    one_hot.attr["T"].type = dtype
    one_hot.attr["TI"].type = node.attr["Tidx"].type
    one_hot.attr["axis"].i = -1
    counted = one_hot.name
    weighted = _const_size(nodes, weights) != 0
    if weighted and not binary:
        expand = _add_const(graph_def, f"{name}/tfx_edge_expand", np.array(-1, np.int32))
        expanded = graph_def.node.add(name=f"{name}/tfx_edge_weights", op="ExpandDims", input=[weights, expand])
        expanded.attr["T"].type = dtype
        expanded.attr["Tdim"].type = tf.int32.as_datatype_enum
        product = graph_def.node.add(name=f"{name}/tfx_edge_weighted", op="Mul", input=[counted, expanded.name])
        product.attr["T"].type = dtype
        counted = product.name
    axis = _add_const(graph_def, f"{name}/tfx_edge_axis", np.array(rank - 1, np.int32))
    node.Clear()
    node.name, node.op = name, "Max" if binary else "Sum"
    node.input.extend([counted, axis])
    node.attr["T"].type = dtype
    node.attr["Tidx"].type = tf.int32.as_datatype_enum
    node.attr["keep_dims"].b = False


def _rank(node) -> int:
    shapes = node.attr["_output_shapes"].list.shape if "_output_shapes" in node.attr else []
    if shapes and not shapes[0].unknown_rank:
        return len(shapes[0].dim)
    return 2   # Keras' CategoryEncoding and tf.math.bincount(axis=-1): [batch, size]


def _const(nodes: dict, tensor: str, where: str, what: str) -> np.ndarray:
    node = nodes.get(tensor.split(":")[0])
    if node is not None and node.op == "Minimum":   # tf.math.bincount: min(max(max(ids) + 1, minlength), maxlength)
        bounds = [nodes.get(i.split(":")[0]) for i in node.input]
        inner = next((b for b in bounds if b is not None and b.op == "Maximum"), None)
        upper = [tf.make_ndarray(b.attr["value"].tensor) for b in bounds if b is not None and b.op == "Const"]
        lower = [tf.make_ndarray(c.attr["value"].tensor) for c in
                 (nodes.get(i.split(":")[0]) for i in (inner.input if inner is not None else []))
                 if c is not None and c.op == "Const"]
        if len(upper) == 1 and len(lower) == 1 and int(upper[0]) == int(lower[0]):
            return upper[0]   # minlength == maxlength: a fixed size
    if node is None or node.op != "Const":
        raise DeriveError(f"{where}: DenseBincount's {what} is computed ({tensor}), not a constant; give the "
                          f"layer a fixed number of tokens (CategoryEncoding(num_tokens=...))")
    return tf.make_ndarray(node.attr["value"].tensor)


def _const_size(nodes: dict, tensor: str) -> int:
    node = nodes.get(tensor.split(":")[0])
    if node is None or node.op != "Const":
        return -1   # computed weights: used
    return int(np.size(tf.make_ndarray(node.attr["value"].tensor)))


def _add_const(graph_def, name: str, value: np.ndarray) -> str:
    node = graph_def.node.add(name=name, op="Const")
    node.attr["dtype"].type = tf.as_dtype(value.dtype).as_datatype_enum
    node.attr["value"].CopyFrom(attr_value_pb2.AttrValue(tensor=tf.make_tensor_proto(value)))
    return name


__all__ = ["REWRITTEN_OPS", "rewrite"]
