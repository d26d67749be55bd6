"""A minimal LiteRT (TFLite) metadata writer: the ``TFLITE_METADATA`` entry of tflite-support's metadata schema.

LiteRT's Task and Support libraries (and Android Studio's model view) read a model's description from a
``TFLITE_METADATA`` entry: a flatbuffer of the schema ``tensorflow_lite_support/metadata/metadata_schema.fbs``
(github tensorflow/tflite-support; schema 1.5.0, file identifier ``M001``, root table ``ModelMetadata``) stored
in one of the model's buffers and named by an entry of ``Model.metadata``; files the metadata names
(labels, ...) are appended to the .tflite as an uncompressed zip archive. The maintained writer (tflite-support
0.4.4) needs protobuf < 4 and cannot be installed beside tfx, so this module writes the few tables it needs with
``flatbuffers.Builder``, following the upstream writer (``metadata/python/metadata.py``, ``MetadataPopulator``;
``metadata_writers/metadata_info.py``, ``metadata_writer.py``):

* ``ModelMetadata`` (name, description, version, author, license, ``min_parser_version``) with exactly one
  ``SubGraphMetadata`` (TFLite's main subgraph 0), whose input/output ``TensorMetadata`` follow the order of
  ``SubGraph.inputs``/``outputs`` and are as many (``MetadataPopulator._validate_metadata``); each tensor is
  matched by its model tensor name, as ``metadata_writer._order_tensor_metadata`` does, or by its key in a
  signature of subgraph 0.
* every ``TensorMetadata`` has ``content`` = ``FeatureProperties`` and a ``stats`` table, as
  ``metadata_info.TensorMd.create_metadata`` writes them; ``min``/``max`` become one-value ``Stats`` vectors
  (the schema propagates one value to all channels); ``mean``/``std`` one ``NormalizationOptions`` process unit
  (``InputImageTensorMd``: equal lengths).
* a labels file is an ``AssociatedFile`` of type ``TENSOR_AXIS_LABELS`` on its tensor, described as upstream's
  ``LabelFileMd`` does; its content is one label a line, ending with a newline (what Task's
  ``BuildLabelMapFromFiles`` splits).
* ``min_parser_version`` is what ``MetadataPopulator.load_metadata_buffer`` sets from ``metadata_version.cc``:
  the newest schema version among the members used. This writer uses none newer than 1.0.0 (no
  ``AssociatedFile.version``, no subgraph process units, tensor groups or custom metadata, no VOCABULARY/ScaNN
  files, no audio), so it is ``1.0.0``.
* the metadata buffer is finished with the file identifier ``M001``; the model is read with LiteRT's object API
  and packed again with ``TFL3``; an existing ``TFLITE_METADATA`` entry gets the new buffer in place (its
  other entries, ``min_runtime_version`` and ``CONVERSION_METADATA``, are kept as they are), or a new buffer and
  entry are appended (``MetadataPopulator._populate_metadata_buffer``).
* the associated files follow the flatbuffer as a zip archive with ZIP_STORED members and offsets counted from
  the start of the file, what ``zipfile.ZipFile(model, "a")`` writes in ``_populate_associated_files`` (and
  the C++ ``ModelMetadataExtractor``, which refuses compressed members, reads).

Where this differs from upstream, on purpose: the archive holds exactly the files of this call. Repacking the
flatbuffer drops bytes after it, so an archive a previous ``populate`` appended is replaced, not carried over
(upstream copies it and refuses to pack a file name twice): the metadata written here is the complete record of
the model's files, and populating a populated model again gives the same bytes as populating the plain model.
Zip members are dated 1980-01-01 and written in sorted name order, so the same inputs give the same bytes.

Provenance (tfx-edge version, source digest, mode, gate decision, ...) goes at the end of
``ModelMetadata.description``, as a line ``Provenance: {json with sorted keys}``. The description is the one
free-text field the readers show (upstream's ``MetadataDisplayer.get_metadata_json``, the JSON its tools print;
model viewers such as Android Studio's); of an associated file (say a ``provenance.json`` of type DESCRIPTIONS)
``MetadataDisplayer`` shows only the name, and ``CustomMetadata`` would raise ``min_parser_version`` to 1.5.0
and is shown as raw bytes. JSON keeps the line machine-readable.
"""

from __future__ import annotations

import dataclasses
import io
import json
import math
import zipfile
from types import MappingProxyType
from typing import Mapping

import flatbuffers  # type: ignore[import-untyped]
import numpy as np

from tfx_edge.schemas import names

METADATA_NAME = "TFLITE_METADATA"
METADATA_FILE_IDENTIFIER = b"M001"
TFLITE_FILE_IDENTIFIER = b"TFL3"
MIN_PARSER_VERSION = "1.0.0"
LABELS_FILE = names.LABELS_FILE
LABELS_DESCRIPTION = "Labels for categories that the model can recognize."  # upstream LabelFileMd's
PROVENANCE_PREFIX = "Provenance: "
ZIP_DATE_TIME = (1980, 1, 1, 0, 0, 0)
# The object API packs the whole model inline: a flatbuffer cannot exceed 2 GiB.
MAX_MODEL_BYTES = 2**31 - 2**24

# metadata_schema.fbs enums used here
_TENSOR_AXIS_LABELS = 2          # AssociatedFileType
_FEATURE_PROPERTIES = 1          # ContentProperties
_NORMALIZATION_OPTIONS = 1       # ProcessUnitOptions

_NO_FILES: Mapping[str, bytes] = MappingProxyType({})


class MetadataError(ValueError):
    """An input that cannot be written as TFLite metadata; the message names it, its value and the fix."""


@dataclasses.dataclass(frozen=True)
class TensorInfo:
    """One input or output of the model's main subgraph.

    name: the model's tensor name or its key in a signature of subgraph 0 (written as TensorMetadata.name).
    dtype/shape: what the caller expects the tensor to be (numpy-style dtype name, -1 for a dynamic dim);
      checked against the model (its shape signature when it has one), not written.
    min/max: Stats; mean/std: a NormalizationOptions process unit, (x - mean) / std per channel.
    labels_file: name of the associated file (TENSOR_AXIS_LABELS) that labels the tensor's last axis:
      ``labels.txt`` for ModelInfo.labels, or a name in populate's ``files``.
    """

    name: str
    description: str
    dtype: str
    shape: tuple[int, ...]
    min: float | None = None
    max: float | None = None
    mean: tuple[float, ...] = ()
    std: tuple[float, ...] = ()
    labels_file: str | None = None

    def __post_init__(self) -> None:
        for field, kind in (("shape", int), ("mean", float), ("std", float)):
            value = getattr(self, field)
            try:
                object.__setattr__(self, field, tuple(kind(v) for v in value))
            except (TypeError, ValueError):
                raise MetadataError(f"TensorInfo {self.name!r}: {field}={value!r}; give a tuple of "
                                    f"{kind.__name__}s" + (" (-1 for a dynamic dim)" if kind is int else "")) from None
        for field in ("min", "max"):
            value = getattr(self, field)
            if value is not None:
                try:
                    object.__setattr__(self, field, float(value))
                except (TypeError, ValueError):
                    raise MetadataError(f"TensorInfo {self.name!r}: {field}={value!r}; give a number, "
                                        f"or None") from None


@dataclasses.dataclass(frozen=True)
class ModelInfo:
    """What ModelMetadata says: inputs/outputs in any order (matched by name), labels written as
    ``labels.txt`` (attach it with TensorInfo.labels_file="labels.txt"), provenance appended to the
    description (see the module docstring)."""

    name: str
    version: str
    description: str
    author: str
    license: str
    inputs: tuple[TensorInfo, ...]
    outputs: tuple[TensorInfo, ...]
    labels: tuple[str, ...] | None = None
    provenance: Mapping[str, str] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "inputs", tuple(self.inputs))
        object.__setattr__(self, "outputs", tuple(self.outputs))
        if self.labels is not None:
            object.__setattr__(self, "labels", tuple(self.labels))
        object.__setattr__(self, "provenance", dict(self.provenance))


def full_description(info: ModelInfo) -> str:
    """ModelMetadata.description: the description, then a ``Provenance: {...}`` line when there is any."""
    if not info.provenance:
        return info.description
    line = PROVENANCE_PREFIX + json.dumps(dict(sorted(info.provenance.items())), ensure_ascii=False)
    return f"{info.description}\n\n{line}" if info.description else line


def labels_bytes(labels: tuple[str, ...]) -> bytes:
    """labels.txt: one label a line, UTF-8, newline-terminated."""
    return "".join(f"{label}\n" for label in labels).encode("utf-8")


def populate(model: bytes, info: ModelInfo, files: Mapping[str, bytes] = _NO_FILES) -> bytes:
    """The model with a TFLITE_METADATA entry describing ``info`` and the associated files appended.

    ``files`` are further label files (name -> bytes), each named by some TensorInfo.labels_file; labels.txt
    comes from ``info.labels``. Raises MetadataError naming the input, its value and the fix.
    """
    from ai_edge_litert.tools import flatbuffer_utils as fb  # pylint: disable=g-import-not-at-top

    data = bytes(model)
    if len(data) < 8 or data[4:8] != TFLITE_FILE_IDENTIFIER:
        raise MetadataError(f"model: file identifier {data[4:8]!r} is not {TFLITE_FILE_IDENTIFIER!r}, so these "
                            f"{len(data)} bytes are not a TFLite flatbuffer; pass the .tflite file's bytes")
    if len(data) > MAX_MODEL_BYTES:
        raise MetadataError(f"model: {len(data)} bytes; the flatbuffer object API this writer uses packs a model "
                            f"inline and cannot exceed 2 GiB; write metadata for models under "
                            f"{MAX_MODEL_BYTES} bytes")
    obj = fb.read_model_from_bytearray(bytearray(data))
    if not obj.subgraphs:
        raise MetadataError("model: it has no subgraph; pass a converted .tflite model")
    _check_info(info)
    sg = obj.subgraphs[0]
    inputs = _order("inputs", info.inputs, _model_tensors(fb, obj, sg, "inputs"))
    outputs = _order("outputs", info.outputs, _model_tensors(fb, obj, sg, "outputs"))
    archive = _archive(info, files)
    for what, pairs in (("inputs", inputs), ("outputs", outputs)):
        for t, (dtype, shape) in pairs:
            _check_tensor(what, t, dtype, shape, archive)

    metadata = _metadata_buffer(info, [t for t, _ in inputs], [t for t, _ in outputs])
    buffer = fb.BufferT()
    buffer.data = np.frombuffer(metadata, dtype=np.uint8)
    entries = [m for m in (obj.metadata or []) if _text(m.name) == METADATA_NAME]
    if entries:
        for m in entries:  # upstream: every TFLITE_METADATA entry gets the new buffer
            obj.buffers[m.buffer] = buffer
    else:
        obj.buffers = list(obj.buffers or []) + [buffer]
        entry = fb.schema_fb.MetadataT()
        entry.name = METADATA_NAME
        entry.buffer = len(obj.buffers) - 1
        obj.metadata = list(obj.metadata or []) + [entry]
    out = io.BytesIO()
    out.write(bytes(fb.convert_object_to_bytearray(obj)))
    if archive:
        _append_zip(out, archive)
    return out.getvalue()


def _text(value) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value or "")


def _model_tensors(fb, obj, sg, what: str) -> list[tuple[set[str], str, tuple[int, ...], str]]:
    """Per model input/output of subgraph 0: (names it answers to, dtype name, shape, shown name)."""
    indices = [int(i) for i in (sg.inputs if what == "inputs" else sg.outputs)]
    keys: dict[int, set[str]] = {i: set() for i in indices}
    for sig in obj.signatureDefs or []:
        if int(sig.subgraphIndex) != 0:
            continue
        for t in (sig.inputs if what == "inputs" else sig.outputs) or []:
            if int(t.tensorIndex) in keys:
                keys[int(t.tensorIndex)].add(_text(t.name))
    result = []
    for i in indices:
        tensor = sg.tensors[i]
        name = _text(tensor.name)
        signature = [int(d) for d in tensor.shapeSignature] if tensor.shapeSignature is not None else []
        shape = tuple(signature) if signature else tuple(int(d) for d in (tensor.shape if tensor.shape is not None
                                                                             else []))
        shown = name + (f" (signature key {'/'.join(sorted(keys[i]))})" if keys[i] - {name} else "")
        result.append(({name} | keys[i], fb.type_to_name(tensor.type).lower(), shape, shown))
    return result


def _order(what: str, given: tuple[TensorInfo, ...], model: list) -> list[tuple[TensorInfo, tuple[str, tuple]]]:
    """``given`` in the model's order of subgraph 0's inputs/outputs, each matched by name."""
    shown = [m[3] for m in model]
    names = [t.name for t in given]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise MetadataError(f"ModelInfo.{what}: names {duplicates} appear more than once; give each of the "
                            f"model's {what} {shown} one TensorInfo")
    if len(given) != len(model):
        raise MetadataError(f"ModelInfo.{what}: {len(given)} TensorInfo {names} for the model's {len(model)} "
                            f"{what} {shown}; the metadata must describe every one of them, once")
    by_model: list[TensorInfo | None] = [None] * len(model)
    for t in given:
        hits = [k for k, m in enumerate(model) if t.name in m[0]]
        if len(hits) != 1:
            problem = "matches none" if not hits else f"matches several ({[shown[k] for k in hits]})"
            raise MetadataError(f"ModelInfo.{what}: TensorInfo name={t.name!r} {problem} of the model's {what} "
                                f"{shown}; use a tensor name or signature key of one of them")
        taken = by_model[hits[0]]
        if taken is not None:
            raise MetadataError(f"ModelInfo.{what}: {taken.name!r} and {t.name!r} both name the model's "
                                f"{shown[hits[0]]}; give each of {shown} one TensorInfo")
        by_model[hits[0]] = t
    return [(t, (m[1], m[2])) for t, m in zip(by_model, model) if t is not None]


def _check_info(info: ModelInfo) -> None:
    if not isinstance(info.name, str) or not info.name:
        raise MetadataError(f"ModelInfo.name={info.name!r}: give the model a non-empty name")
    for field in ("version", "description", "author", "license"):
        if not isinstance(getattr(info, field), str):
            raise MetadataError(f"ModelInfo.{field}={getattr(info, field)!r}: must be a string ('' to omit)")
    for key, value in info.provenance.items():
        if not isinstance(key, str) or not key or not isinstance(value, str):
            raise MetadataError(f"ModelInfo.provenance[{key!r}]={value!r}: provenance maps non-empty string keys "
                                f"to strings; convert the value with str()")
    if info.labels is not None:
        if not info.labels:
            raise MetadataError("ModelInfo.labels=(): give one label per class, or labels=None for no labels.txt")
        _check_labels("ModelInfo.labels", info.labels)


def _check_labels(what: str, labels) -> None:
    for k, label in enumerate(labels):
        if not isinstance(label, str) or not label or "\n" in label or "\r" in label:
            raise MetadataError(f"{what}[{k}]={label!r}: each label must be a non-empty string without line "
                                f"breaks (labels.txt holds one a line)")
    seen: set[str] = set()
    for label in labels:
        if label in seen:
            raise MetadataError(f"{what}: label {label!r} appears more than once; class labels must be unique")
        seen.add(label)


def _archive(info: ModelInfo, files: Mapping[str, bytes]) -> dict[str, bytes]:
    """The associated files to pack, by name; each must be named by a TensorInfo.labels_file."""
    archive: dict[str, bytes] = {}
    for name, content in files.items():
        if not isinstance(name, str) or not name or "/" in name or "\\" in name:
            raise MetadataError(f"files: name {name!r}: give a plain file name (no directory), as the metadata "
                                f"records it and the zip stores it")
        if not isinstance(content, (bytes, bytearray)):
            raise MetadataError(f"files[{name!r}]: a {type(content).__name__}; give the file's bytes")
        archive[name] = bytes(content)
    if info.labels is not None:
        if LABELS_FILE in archive:
            raise MetadataError(f"files: {LABELS_FILE!r} is given and ModelInfo.labels writes {LABELS_FILE!r} "
                                f"too; drop one of them (associated file names must be unique)")
        archive[LABELS_FILE] = labels_bytes(info.labels)
    named = {t.labels_file for t in info.inputs + info.outputs if t.labels_file is not None}
    unused = sorted(set(archive) - named)
    if unused:
        fix = (f"set labels_file={LABELS_FILE!r} on the output the labels annotate" if unused == [LABELS_FILE]
               else "name each as some TensorInfo's labels_file, or leave it out")
        raise MetadataError(f"associated files {unused} are attached to no tensor; {fix}")
    return archive


def _check_tensor(what: str, t: TensorInfo, dtype: str, shape: tuple[int, ...], archive: Mapping[str, bytes]) -> None:
    where = f"ModelInfo.{what} TensorInfo {t.name!r}"
    if not isinstance(t.description, str):
        raise MetadataError(f"{where}: description={t.description!r}; must be a string ('' to omit)")
    if str(t.dtype).lower() != dtype:
        raise MetadataError(f"{where}: dtype={t.dtype!r} but the model's tensor is {dtype}; "
                            f"set dtype={dtype!r} (or describe the right tensor)")
    if tuple(t.shape) != shape:
        raise MetadataError(f"{where}: shape={t.shape} but the model's tensor has shape {shape} (-1: dynamic); "
                            f"set shape={shape}")
    for field in ("min", "max"):
        value = getattr(t, field)
        if value is not None and not math.isfinite(value):
            raise MetadataError(f"{where}: {field}={value!r}; Stats need a finite number, or None")
    if t.min is not None and t.max is not None and t.min > t.max:
        raise MetadataError(f"{where}: min={t.min} > max={t.max}; swap them")
    if bool(t.mean) != bool(t.std) or len(t.mean) != len(t.std):
        raise MetadataError(f"{where}: mean={t.mean} and std={t.std}; normalization needs both, of equal length "
                            f"(one value, or one per channel)")
    channels = shape[-1] if shape else 1
    if t.mean and len(t.mean) != 1 and channels != -1 and len(t.mean) != channels:
        raise MetadataError(f"{where}: {len(t.mean)} mean/std values for a last axis of {channels}; give one "
                            f"value or {channels}")
    if any(not math.isfinite(v) for v in t.mean + t.std) or any(v == 0 for v in t.std):
        raise MetadataError(f"{where}: mean={t.mean}, std={t.std}; values must be finite and std non-zero")
    if t.labels_file is None:
        return
    if t.labels_file not in archive:
        raise MetadataError(f"{where}: labels_file={t.labels_file!r} is not among the associated files "
                            f"{sorted(archive)}; pass it in files=, or set ModelInfo.labels for {LABELS_FILE!r}")
    if not shape:
        raise MetadataError(f"{where}: labels_file={t.labels_file!r} on a scalar tensor; labels annotate the "
                            f"last axis (classes) of an output")
    try:
        text = archive[t.labels_file].decode("utf-8")
    except UnicodeDecodeError as e:
        raise MetadataError(f"files[{t.labels_file!r}]: not UTF-8 ({e}); write the labels as UTF-8") from None
    lines = text.split("\n")
    if lines and lines[-1] == "":  # what Task's BuildLabelMapFromFiles drops
        lines.pop()
    _check_labels(f"files[{t.labels_file!r}] lines", lines)
    if shape[-1] != -1 and len(lines) != shape[-1]:
        raise MetadataError(f"{where}: {t.labels_file!r} has {len(lines)} labels but the tensor's last axis "
                            f"(shape {shape}) has {shape[-1]} classes; give one label per class")


# ---- the ModelMetadata flatbuffer (metadata_schema.fbs; field slots in declaration order) ----

def _metadata_buffer(info: ModelInfo, inputs: list[TensorInfo], outputs: list[TensorInfo]) -> bytes:
    b = flatbuffers.Builder(1024)
    input_offsets = [_tensor_metadata(b, t) for t in inputs]
    output_offsets = [_tensor_metadata(b, t) for t in outputs]
    input_vector = _table_vector(b, input_offsets)
    output_vector = _table_vector(b, output_offsets)
    b.StartObject(10)                                                        # SubGraphMetadata
    b.PrependUOffsetTRelativeSlot(2, input_vector, 0)                        # input_tensor_metadata
    b.PrependUOffsetTRelativeSlot(3, output_vector, 0)                       # output_tensor_metadata
    subgraph = b.EndObject()

    strings = {slot: _string(b, value) for slot, value in (
        (0, info.name), (1, full_description(info)), (2, info.version), (4, info.author), (5, info.license),
        (7, MIN_PARSER_VERSION))}
    subgraphs = _table_vector(b, [subgraph])
    b.StartObject(8)                                                         # ModelMetadata
    for slot in (0, 1, 2):                                                   # name, description, version
        _add(b, slot, strings[slot])
    b.PrependUOffsetTRelativeSlot(3, subgraphs, 0)                           # subgraph_metadata
    for slot in (4, 5, 7):                                                   # author, license, min_parser_version
        _add(b, slot, strings[slot])
    b.Finish(b.EndObject(), file_identifier=METADATA_FILE_IDENTIFIER)
    return bytes(b.Output())


def _tensor_metadata(b, t: TensorInfo) -> int:
    name, description = _string(b, t.name), _string(b, t.description)

    b.StartObject(0)                                                         # FeatureProperties
    feature = b.EndObject()
    b.StartObject(3)                                                         # Content
    b.PrependUint8Slot(0, _FEATURE_PROPERTIES, 0)                            # content_properties_type
    b.PrependUOffsetTRelativeSlot(1, feature, 0)                             # content_properties
    content = b.EndObject()

    process_units = None
    if t.mean:
        mean, std = _floats(b, t.mean), _floats(b, t.std)
        b.StartObject(2)                                                     # NormalizationOptions
        b.PrependUOffsetTRelativeSlot(0, mean, 0)
        b.PrependUOffsetTRelativeSlot(1, std, 0)
        normalization = b.EndObject()
        b.StartObject(2)                                                     # ProcessUnit
        b.PrependUint8Slot(0, _NORMALIZATION_OPTIONS, 0)                     # options_type
        b.PrependUOffsetTRelativeSlot(1, normalization, 0)                   # options
        process_units = _table_vector(b, [b.EndObject()])

    stat_max = _floats(b, (t.max,)) if t.max is not None else None
    stat_min = _floats(b, (t.min,)) if t.min is not None else None
    b.StartObject(2)                                                         # Stats
    _add(b, 0, stat_max)
    _add(b, 1, stat_min)
    stats = b.EndObject()

    files = None
    if t.labels_file is not None:
        file_name, file_description = _string(b, t.labels_file), _string(b, LABELS_DESCRIPTION)
        b.StartObject(5)                                                     # AssociatedFile
        b.PrependUOffsetTRelativeSlot(0, file_name, 0)                       # name
        b.PrependUOffsetTRelativeSlot(1, file_description, 0)                # description
        b.PrependInt8Slot(2, _TENSOR_AXIS_LABELS, 0)                         # type
        files = _table_vector(b, [b.EndObject()])

    b.StartObject(7)                                                         # TensorMetadata
    _add(b, 0, name)
    _add(b, 1, description)
    b.PrependUOffsetTRelativeSlot(3, content, 0)                             # content
    _add(b, 4, process_units)                                                # process_units
    b.PrependUOffsetTRelativeSlot(5, stats, 0)                               # stats
    _add(b, 6, files)                                                        # associated_files
    return b.EndObject()


def _string(b, value: str) -> int | None:
    return b.CreateString(value) if value else None


def _add(b, slot: int, offset: int | None) -> None:
    if offset is not None:
        b.PrependUOffsetTRelativeSlot(slot, offset, 0)


def _floats(b, values) -> int:
    return b.CreateNumpyVector(np.asarray(values, dtype="<f4"))


def _table_vector(b, offsets: list[int]) -> int:
    b.StartVector(4, len(offsets), 4)
    for offset in reversed(offsets):
        b.PrependUOffsetTRelative(offset)
    return b.EndVector()


def _append_zip(out: io.BytesIO, archive: Mapping[str, bytes]) -> None:
    """An uncompressed zip after the flatbuffer, offsets counted from the start of the file: what upstream's
    ``zipfile.ZipFile(model, "a")`` writes; members sorted by name and dated 1980-01-01."""
    out.seek(0, io.SEEK_END)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as zf:
        for name in sorted(archive):
            member = zipfile.ZipInfo(name, date_time=ZIP_DATE_TIME)
            member.compress_type = zipfile.ZIP_STORED
            member.create_system = 3
            member.external_attr = 0o600 << 16  # what writestr(name, ...) gives upstream's members
            zf.writestr(member, archive[name])
