"""The Transform layer inside a serving signature: where TFX put it and what its outputs are named.

Placement 'transformed' cuts the frozen serving graph where the tf.Transform layer's outputs enter
the model. The cut tensors are anonymous; each is named after the Transform output that has the
same values on probe examples (the calibration split's own, else synthetic ones built from the
signature's parsing spec). Both sides are fed the same serialized tf.Examples: the frozen graph
parses them itself, and the Transform layer is called on what that parse returns (dense and sparse
features alike), so any feature spec the signature parses works.

The layer itself is found by graph_cut.find_transform_layer (TFX's attribute names, then its type).
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np
import tensorflow as tf

from tfx_edge.components.core.graph_cut import DeriveError, Feed, Graph, function

EXAMPLES_FEED = "examples"                         # the serialized tf.Examples TRANSFORM_KEY takes
PROBE_ROWS = 64


def examples_feed(graph: Graph, parse) -> Feed:
    """The serialized tf.Examples the signature parses, as a feed: the graph input they come from
    (through the Identity nodes freezing leaves between them)."""
    name = parse.input[0].split(":")[0]
    while graph.nodes[name].op == "Identity":
        name = graph.nodes[name].input[0].split(":")[0]
    return Feed(EXAMPLES_FEED, name + ":0", "string", (-1,))


def name_outputs(graph: Graph, parse, layer, crossing: list[str], probe: Sequence[bytes] | None):
    """(the crossing tensors as feeds named after the Transform outputs with the same values on the
    probe, the TRANSFORM_KEY function: serialized examples -> those outputs by name)."""
    serialized = np.array(list(probe)[:PROBE_ROWS] if probe else synthetic_examples(graph, parse), dtype=object)
    by_tensor = function(graph.graph_def, [examples_feed(graph, parse)], {t: t for t in crossing}, graph.resources)
    got = by_tensor(serialized)
    expected = _apply(layer, parsed_features(graph, parse, serialized))
    feeds = []
    for tensor in crossing:
        value = got[tensor].numpy()
        names = [k for k, v in sorted(expected.items()) if v.shape == value.shape and v.dtype == value.dtype
                 and _same(v, value)]
        if len(names) != 1:
            source = "the calibration split" if probe else "synthetic"
            raise DeriveError(
                f"the Transform output feeding the model at {tensor} matches {names or 'no'} output(s) of the "
                f"Transform layer on {len(serialized)} probe examples ({source}), so it cannot be named; "
                f"the .tflite's inputs must be Transform's named outputs")
        feeds.append(Feed(names[0], tensor, value.dtype.name, (-1,) + value.shape[1:]))
    feeds.sort(key=lambda f: f.name)
    return feeds, _renamed(by_tensor, feeds)


def _renamed(by_tensor, feeds: list[Feed]):
    """The examples -> crossing function with its outputs keyed by the names found (built once: see
    graph_cut.function on importing a library twice)."""
    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name=EXAMPLES_FEED)])
    def transform(examples):
        out = by_tensor(examples)
        return {f.name: out[f.tensor] for f in feeds}
    return transform


def parsed_features(graph: Graph, parse, serialized: np.ndarray) -> dict[str, Any]:
    """`serialized` parsed as the signature parses it (its ParseExampleV2's spec: dense features with
    their defaults, sparse ones as VarLen), so the Transform layer is called as serving calls it."""
    if parse.attr["Tragged_value_types"].list.type:
        raise DeriveError(f"the signature parses ragged features {graph.keys(parse, 4)}; placement='transformed' "
                          f"supports dense and sparse (VarLen) features")
    spec: dict[str, Any] = {k: tf.io.VarLenFeature(tf.as_dtype(t))
                            for k, t in zip(graph.keys(parse, 2), parse.attr["sparse_types"].list.type)}
    defaults = [i for i in parse.input if not i.startswith("^")][5:]
    shapes = [[d.size for d in s.dim] for s in parse.attr["dense_shapes"].list.shape]
    for key, dtype, shape, default in zip(graph.keys(parse, 3), parse.attr["Tdense"].list.type, shapes, defaults):
        value = graph._const(default)
        spec[key] = tf.io.FixedLenFeature(shape, tf.as_dtype(dtype), value if value.size else None)
    return tf.io.parse_example(tf.constant(serialized), spec)


def _apply(layer, features: dict[str, Any]) -> dict[str, np.ndarray]:
    try:
        result = layer(features)
    except (ValueError, TypeError) as error:
        raise DeriveError(f"the Transform layer saved on the model cannot be called on the features the signature "
                          f"parses ({sorted(features)}): {str(error).splitlines()[0]}; save on the model the "
                          f"layer that serving_default calls (TFX: model.tft_layer_inference)") from None
    return {k: _dense(v) for k, v in result.items()}


def _dense(value) -> np.ndarray:
    if isinstance(value, tf.SparseTensor):
        return tf.sparse.to_dense(value).numpy()
    return value.numpy()


def synthetic_examples(graph: Graph, parse, rows: int = PROBE_ROWS) -> list[bytes]:
    """Seeded, distinct probe examples for every feature the signature parses (sparse features
    are missing from every 4th example)."""
    rng = np.random.default_rng(0)
    dense_types = [tf.as_dtype(t) for t in parse.attr["Tdense"].list.type]
    shapes = [[d.size for d in s.dim] for s in parse.attr["dense_shapes"].list.shape]
    sparse_types = [tf.as_dtype(t) for t in parse.attr["sparse_types"].list.type]
    specs: list[tuple[str, Any, int | None]] = [
        (k, t, int(np.prod(s))) for k, t, s in zip(graph.keys(parse, 3), dense_types, shapes)]
    specs += [(k, t, None) for k, t in zip(graph.keys(parse, 2), sparse_types)]
    out = []
    for row in range(rows):
        example = tf.train.Example()
        for i, (key, dtype, count) in enumerate(specs):
            if count is None and row % 4 == 3:
                continue
            _fill(example.features.feature[key], dtype, count or 1, rng, f"tfx_edge_probe_{i}_{row}")
        out.append(example.SerializeToString())
    return out


def _fill(feature, dtype, count: int, rng: np.random.Generator, token: str) -> None:
    if dtype == tf.string:
        feature.bytes_list.value.extend(f"{token}_{j}".encode() for j in range(count))
    elif dtype.is_integer:
        feature.int64_list.value.extend(int(v) for v in rng.integers(0, 1000, size=count))
    else:
        feature.float_list.value.extend(float(v) for v in rng.uniform(-3, 3, size=count))


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal, up to float rounding (the inlined graph and the eager layer may order ops differently)."""
    if np.issubdtype(a.dtype, np.floating):
        return bool(np.allclose(a, b, rtol=1e-5, atol=1e-6))
    return bool(np.array_equal(a, b))


def transform_fn(derived_dir: str, key: str) -> Callable[[Sequence[bytes]], dict[str, np.ndarray]]:
    """serialized tf.Examples -> transformed features, through the derived model's `key` signature."""
    fn = tf.saved_model.load(derived_dir).signatures[key]

    def run(records: Sequence[bytes]) -> dict[str, np.ndarray]:
        out = fn(**{EXAMPLES_FEED: tf.constant(np.array(list(records), dtype=object))})
        return {k: v.numpy() for k, v in out.items()}
    return run


__all__ = ["EXAMPLES_FEED", "examples_feed", "name_outputs", "parsed_features", "synthetic_examples",
           "transform_fn"]
