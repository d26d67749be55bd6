"""tfx-edge components: Quantizer -> TFLiteExporter -> EdgeEvaluator (-> stock Pusher)."""

from components.artifacts import EdgeEvaluation, QuantizationPlan
from components.edge_evaluator.component import EdgeEvaluator
from components.quantizer.component import Quantizer
from components.tflite_exporter.component import TFLiteExporter

__all__ = ["EdgeEvaluation", "EdgeEvaluator", "QuantizationPlan", "Quantizer", "TFLiteExporter"]
