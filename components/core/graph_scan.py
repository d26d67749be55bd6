"""Walks over a frozen GraphDef that graph_cut.py needs: what a cut keeps, and the ops hidden in
function bodies.

Freezing inlines most of a signature, but a call whose body holds a lookup table (a
Transform vocabulary) stays a call node: its ops live in `graph_def.library`, and the
table stays a DT_RESOURCE placeholder (a table is not a variable, so it is not frozen).
"""

from __future__ import annotations


from tensorflow.core.framework import types_pb2


def node_of(tensor: str) -> str:
    return tensor.lstrip("^").split(":")[0]


def index_of(tensor: str) -> int:
    return int(tensor.split(":")[1]) if ":" in tensor else 0


def data_inputs(node) -> list[str]:
    return [i for i in node.input if not i.startswith("^")]


def is_resource_placeholder(node) -> bool:
    return node.op == "Placeholder" and node.attr["dtype"].type == types_pb2.DT_RESOURCE


def called_functions(node) -> list[str]:
    return [a.func.name for a in node.attr.values() if a.HasField("func")]


def used_functions(graph_def, nodes) -> set[str]:
    """Library functions the nodes call, and those their bodies call, transitively."""
    library = {f.signature.name: f for f in graph_def.library.function}
    found: set[str] = set()
    stack = [f for n in nodes for f in called_functions(n)]
    while stack:
        name = stack.pop()
        if name in found or name not in library:
            continue
        found.add(name)
        stack.extend(f for n in library[name].node_def for f in called_functions(n))
    return found


def library_ops(graph_def, function: str, wanted: frozenset, seen: set | None = None) -> list[tuple[str, set]]:
    """[(op, indices of the call's data inputs feeding it)] for ops in `wanted` inside a library
    function's body, called functions included."""
    library = {f.signature.name: f for f in graph_def.library.function}
    seen = set() if seen is None else seen
    if function not in library or function in seen:
        return []
    seen.add(function)
    body = library[function]
    args = {a.name: i for i, a in enumerate(body.signature.input_arg)}
    nodes = {n.name: n for n in body.node_def}
    found = []
    for node in body.node_def:
        if node.op in wanted:
            found.append((node.op, _args_feeding(node.name, nodes, args)))
        for inner in called_functions(node):
            inputs = data_inputs(node)
            for op, indices in library_ops(graph_def, inner, wanted, seen):
                found.append((op, {args[node_of(inputs[i])] for i in indices
                                   if i < len(inputs) and node_of(inputs[i]) in args}))
    return found


def _args_feeding(name: str, nodes: dict, args: dict) -> set[int]:
    out, seen, stack = set(), set(), [name]
    while stack:
        for inp in data_inputs(nodes[stack.pop()]):
            head = node_of(inp)
            if head in args:
                out.add(args[head])
            elif head in nodes and head not in seen:
                seen.add(head)
                stack.append(head)
    return out
