"""What the TFLiteExporter writes for the app beside the model: a description, class names."""

from __future__ import annotations

import dataclasses

from tfx_edge.schemas import _strict
from tfx_edge.schemas._strict import fail


@dataclasses.dataclass(frozen=True)
class ExportConfig(_strict.JsonConfig):
    """The TFLiteExporter's config (all optional).

    label_names: the class names, in the order of the classification output's last axis; written as
      `labels.txt` beside the model and inside it (LiteRT metadata, TENSOR_AXIS_LABELS), so an app shows
      names, not ids. Empty: no labels file.
    label_output: the output the names label (needed only when the model has several outputs).
    description / author / license: LiteRT metadata's fields (the description gets the provenance
      line appended).
    """

    label_names: tuple[str, ...] = ()
    label_output: str | None = None
    description: str = ""
    author: str = ""
    license: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "label_names", tuple(self.label_names))
        _strict.check_fields(self, "export")
        bad = next((n for n in self.label_names if not isinstance(n, str) or not n or "\n" in n), None)
        if bad is not None:
            fail("export.label_names", bad, "give each class a non-empty name without a line break")
        repeated = sorted({n for n in self.label_names if self.label_names.count(n) > 1})
        if repeated:
            fail("export.label_names", repeated, "give each class its own name")
        if self.label_output is not None and not self.label_names:
            fail("export.label_output", self.label_output, "set label_names too, or leave label_output unset")
