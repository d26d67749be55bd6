"""What the Quantizer reads from SchemaGen's schema: the features with at most one value per example."""

from __future__ import annotations

from tfx.types import artifact
from tfx.utils import io_utils as tfx_io_utils

from tensorflow_metadata.proto.v0 import schema_pb2


def single_valued(schema_artifact: artifact.Artifact) -> frozenset[str]:
    """Names of the features the schema declares with at most one value per example (value_count.max
    1: SchemaGen's inference with infer_feature_shape=False for a column of scalars)."""
    path = tfx_io_utils.get_only_uri_in_dir(schema_artifact.uri)
    schema = tfx_io_utils.SchemaReader().read(path)
    return frozenset(names(schema))


def names(schema: schema_pb2.Schema) -> list[str]:
    return sorted(f.name for f in schema.feature if f.HasField("value_count") and f.value_count.max == 1)
