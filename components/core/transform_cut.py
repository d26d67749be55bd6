"""The Transform layer inside a serving signature: where TFX put it and what its outputs are named.

Placement 'transformed' cuts the frozen serving graph where the tf.Transform layer's outputs enter
the model. The cut tensors are anonymous; each is named after the Transform output that has the
same values on probe examples (the calibration split's own, else synthetic ones built from the
signature's parsing spec). Both sides are fed the same serialized tf.Examples: the frozen graph
parses them itself, and the Transform layer is called on what that parse returns (dense and sparse
features alike), so any feature spec the signature parses works.

TFX's modules keep the layer under different attribute names (`tft_layer` in the penguin example,
`tft_layer_inference` / `tft_layer_eval` in the taxi example and the penguin template); it is found
by those names, then by its type (what tf.Transform's TransformFeaturesLayer tracks) under any name.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np
import tensorflow as tf

from tfx_edge.components.core.graph_cut import DeriveError, Feed, Graph, function

TRANSFORM_ATTRIBUTES = ("tft_layer", "tft_layer_inference", "tft_layer_eval")
_LAYER_MARK = "_saved_model_loader_tracked_dict"   # tracked by tft's TransformFeaturesLayer
EXAMPLES_FEED = "examples"                         # the serialized tf.Examples TRANSFORM_KEY takes
PROBE_ROWS = 64


def find_layer(loaded) -> tuple[str, Any] | None:
    """(attribute, layer) of the Transform layer saved on the model, or None."""
    for name in TRANSFORM_ATTRIBUTES:
        if hasattr(loaded, name):
            return name, getattr(loaded, name)
    children = loaded._trackable_children() if hasattr(loaded, "_trackable_children") else vars(loaded)
    for name, child in sorted(children.items()):
        if hasattr(child, _LAYER_MARK):
            return name, child
    return None


def examples_feed(parse) -> Feed:
    """The serialized tf.Examples the signature parses, as a feed."""
    return Feed(EXAMPLES_FEED, parse.input[0], "string", (-1,))


def name_outputs(graph: Graph, parse, layer: tuple[str, Any], crossing: list[str],
                 probe: Sequence[bytes] | None) -> list[Feed]:
    """Names each crossing tensor after the Transform output with the same values on the probe."""
    serialized = np.array(list(probe)[:PROBE_ROWS] if probe else synthetic_examples(graph, parse), dtype=object)
    feed = examples_feed(parse)
    got = function(graph.graph_def, [feed], {t: t for t in crossing}, graph.resources)(serialized)
    expected = _apply(layer, parsed_features(graph, parse, serialized))
    feeds = []
    for tensor in crossing:
        value = got[tensor].numpy()
        names = [k for k, v in sorted(expected.items()) if v.shape == value.shape and v.dtype == value.dtype
                 and _same(v, value)]
        if len(names) != 1:
            raise DeriveError(
                f"the Transform output feeding the model at {tensor} matches {names or 'no'} output(s) of "
                f"{layer[0]} on {len(serialized)} probe examples ({'the calibration split' if probe else 'synthetic'}"
                f"), so it cannot be named; the app-facing inputs must be Transform's named outputs")
        feeds.append(Feed(names[0], tensor, value.dtype.name, (-1,) + value.shape[1:]))
    return sorted(feeds, key=lambda f: f.name)


def parsed_features(graph: Graph, parse, serialized: np.ndarray) -> dict[str, Any]:
    """What the signature's own ParseExampleV2 returns for `serialized`: dense tensors and SparseTensors."""
    num_sparse = parse.attr["num_sparse"].i
    if parse.attr["Tragged_value_types"].list.type:
        raise DeriveError(f"the signature parses ragged features {graph.keys(parse, 4)}; placement='transformed' "
                          f"supports dense and sparse (VarLen) features")
    sparse, dense = graph.keys(parse, 2), graph.keys(parse, 3)
    fetches = {f"{k}/{part}": f"{parse.name}:{offset * num_sparse + i}"
               for i, k in enumerate(sparse) for offset, part in enumerate(("indices", "values", "shape"))}
    fetches |= {f"{k}/dense": f"{parse.name}:{3 * num_sparse + i}" for i, k in enumerate(dense)}
    out = function(graph.graph_def, [examples_feed(parse)], fetches, graph.resources)(serialized)
    features: dict[str, Any] = {k: out[f"{k}/dense"] for k in dense}
    features |= {k: tf.SparseTensor(out[f"{k}/indices"], out[f"{k}/values"], out[f"{k}/shape"]) for k in sparse}
    return features


def _apply(layer: tuple[str, Any], features: dict[str, Any]) -> dict[str, np.ndarray]:
    name, call = layer
    try:
        result = call(features)
    except (ValueError, TypeError) as error:
        raise DeriveError(f"the Transform layer `{name}` cannot be called on the features the signature "
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


__all__ = ["EXAMPLES_FEED", "TRANSFORM_ATTRIBUTES", "examples_feed", "find_layer", "name_outputs",
           "parsed_features", "synthetic_examples", "transform_fn"]
