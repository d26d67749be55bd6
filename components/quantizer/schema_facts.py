"""What the Quantizer reads from SchemaGen's schema and StatisticsGen's statistics: the features with at
most one value per example (placement 'embedded' feeds such VarLen features dense [batch, 1])."""

from __future__ import annotations

import os

from tfx.types import artifact, artifact_utils
from tfx.utils import io_utils as tfx_io_utils

from tensorflow_metadata.proto.v0 import schema_pb2, statistics_pb2
from tfx_edge.components import io_utils

STATISTICS_FILE = "FeatureStats.pb"   # StatisticsGen's file in each Split-<name>/


def single_valued(schema: artifact.Artifact | None, statistics: artifact.Artifact | None) -> frozenset[str] | None:
    """Features the schema declares with value_count.max 1 (SchemaGen with infer_feature_shape=False on
    scalar columns) or whose statistics show at most one value in every split; None with neither."""
    if schema is None and statistics is None:
        return None
    found = set(schema_names(_schema(schema))) if schema is not None else set()
    if statistics is not None:
        found |= set(statistics_names([_statistics(statistics, split) for split in
                                       artifact_utils.decode_split_names(statistics.split_names)]))
    return frozenset(found)


def schema_names(schema: schema_pb2.Schema) -> list[str]:
    return sorted(f.name for f in schema.feature if f.HasField("value_count") and f.value_count.max == 1)


def statistics_names(splits: list[statistics_pb2.DatasetFeatureStatisticsList]) -> list[str]:
    """Features with max_num_values <= 1 in every dataset of every split they appear in."""
    most: dict[str, int] = {}
    for stats in splits:
        for dataset in stats.datasets:
            for feature in dataset.features:
                if feature.WhichOneof("stats") is None or len(feature.path.step) > 1:
                    continue
                name = feature.path.step[0] if feature.path.step else feature.name
                common = getattr(feature, str(feature.WhichOneof("stats"))).common_stats
                most[name] = max(most.get(name, 0), int(common.max_num_values))
    return sorted(name for name, count in most.items() if count <= 1)


def _schema(schema: artifact.Artifact) -> schema_pb2.Schema:
    return tfx_io_utils.SchemaReader().read(tfx_io_utils.get_only_uri_in_dir(schema.uri))


def _statistics(statistics: artifact.Artifact, split: str) -> statistics_pb2.DatasetFeatureStatisticsList:
    path = os.path.join(statistics.uri, f"Split-{split}", STATISTICS_FILE)
    try:
        return statistics_pb2.DatasetFeatureStatisticsList.FromString(io_utils.read_bytes(path))
    except Exception as error:   # missing or not the proto: the channel is miswired
        raise ValueError(f"StatisticsGen's statistics {path!r} are unreadable ({type(error).__name__}: {error}); "
                         f"wire statistics=statistics_gen.outputs['statistics'] into the Quantizer") from error
