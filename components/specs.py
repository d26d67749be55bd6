"""Every channel and execution-parameter key of the tfx-edge components, and their specs.

Defined once (as tfx's `types/standard_component_specs.py` does): component
classes, executors, tests and benchmarks read the keys from here, never a literal.
Importing this module loads TFX's type system, not TensorFlow or the executors.
"""

from __future__ import annotations

from tfx.types import component_spec, standard_artifacts

from tfx_edge.components.artifacts import EdgeEvaluation, QuantizationPlan

# Execution parameter shared by all three: the component's typed config as JSON.
CONFIG_KEY = "config"

# Channels.
MODEL_KEY = "model"                  # Quantizer, TFLiteExporter: the Trainer's model; EdgeEvaluator: the TFLite
EXAMPLES_KEY = "examples"
SCHEMA_KEY = "schema"                # Quantizer: SchemaGen's schema (single-valued VarLen features)
STATISTICS_KEY = "statistics"        # Quantizer: StatisticsGen's statistics (the same, from the data)
PLAN_KEY = "plan"
TFLITE_MODEL_KEY = "tflite_model"
FLOAT_MODEL_KEY = "float_model"
FLOAT_BLESSING_KEY = "float_blessing"
SAVED_MODEL_KEY = "saved_model"
BLESSING_KEY = "blessing"
EVALUATION_KEY = "evaluation"


class QuantizerSpec(component_spec.ComponentSpec):
    PARAMETERS = {CONFIG_KEY: component_spec.ExecutionParameter(type=str)}
    INPUTS = {
        MODEL_KEY: component_spec.ChannelParameter(type=standard_artifacts.Model),
        EXAMPLES_KEY: component_spec.ChannelParameter(type=standard_artifacts.Examples, optional=True),
        SCHEMA_KEY: component_spec.ChannelParameter(type=standard_artifacts.Schema, optional=True),
        STATISTICS_KEY: component_spec.ChannelParameter(type=standard_artifacts.ExampleStatistics, optional=True),
    }
    OUTPUTS = {PLAN_KEY: component_spec.ChannelParameter(type=QuantizationPlan)}


class TFLiteExporterSpec(component_spec.ComponentSpec):
    PARAMETERS = {CONFIG_KEY: component_spec.ExecutionParameter(type=str, optional=True)}
    INPUTS = {
        MODEL_KEY: component_spec.ChannelParameter(type=standard_artifacts.Model),
        PLAN_KEY: component_spec.ChannelParameter(type=QuantizationPlan),
    }
    OUTPUTS = {
        TFLITE_MODEL_KEY: component_spec.ChannelParameter(type=standard_artifacts.Model),
        FLOAT_MODEL_KEY: component_spec.ChannelParameter(type=standard_artifacts.Model),
    }


class EdgeEvaluatorSpec(component_spec.ComponentSpec):
    PARAMETERS = {CONFIG_KEY: component_spec.ExecutionParameter(type=str)}
    INPUTS = {
        EXAMPLES_KEY: component_spec.ChannelParameter(type=standard_artifacts.Examples),
        MODEL_KEY: component_spec.ChannelParameter(type=standard_artifacts.Model),
        FLOAT_MODEL_KEY: component_spec.ChannelParameter(type=standard_artifacts.Model),
        FLOAT_BLESSING_KEY: component_spec.ChannelParameter(
            type=standard_artifacts.ModelBlessing, optional=True),
        SAVED_MODEL_KEY: component_spec.ChannelParameter(type=standard_artifacts.Model, optional=True),
    }
    OUTPUTS = {
        BLESSING_KEY: component_spec.ChannelParameter(type=standard_artifacts.ModelBlessing),
        EVALUATION_KEY: component_spec.ChannelParameter(type=EdgeEvaluation),
    }
