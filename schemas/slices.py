"""Slices as the configs name them: one feature, or a cross of two or more features, and a slice
threshold's value for either (pure; no TensorFlow). components/core/slicing.py computes them."""

from __future__ import annotations

from tfx_edge.schemas._strict import fail

# A slice: one feature ("species"), or a cross of two or more distinct features (("species", "island")),
# whose slices are the combinations of their values.
SliceFeature = str | tuple[str, ...]
# A slice threshold's value: None (every value), a string (one feature) or, for a cross, one entry per
# feature (a string, or None: every value of that feature).
SliceValue = str | tuple[str | None, ...] | None


def cross_of(feature: SliceFeature) -> tuple[str, ...]:
    """The features of a slice_features entry (or of SliceThreshold.feature), in its order."""
    return (feature,) if isinstance(feature, str) else tuple(feature)


def values_of(feature: SliceFeature, value: SliceValue) -> tuple[str | None, ...]:
    """A SliceThreshold's value as one entry per feature of its cross (None: every value)."""
    n = len(cross_of(feature))
    if value is None:
        return (None,) * n
    return (value,) if isinstance(value, str) else tuple(value)


def check_cross(path: str, feature: SliceFeature) -> None:
    """A slice feature is a non-empty name; a cross, two or more distinct ones."""
    cross = cross_of(feature)
    if any(not f for f in cross):
        fail(path, feature, "name the Example feature(s) to slice by (an empty name slices nothing)")
    if not isinstance(feature, str) and len(cross) < 2:
        fail(path, feature, f"a crossed slice needs two or more features; slice by one feature as {cross[0]!r}"
             if cross else "a crossed slice needs two or more features, e.g. ('species', 'island')")
    if len(set(cross)) != len(cross):
        fail(path, feature, "a crossed slice names each feature once; remove the repeated one")


def check_value(path: str, feature: SliceFeature, value: SliceValue) -> None:
    """A single feature's value is a string (or None); a cross's, one string or None per feature."""
    if isinstance(feature, str):
        if value is not None and not isinstance(value, str):
            fail(path, value, f"{feature!r} is one feature: give one value (a string), or None for every value")
        return
    if isinstance(value, str):
        example = (value,) + (None,) * (len(feature) - 1)
        fail(path, value, f"{feature!r} is a cross: give one value per feature, e.g. {example!r} (None: every "
             f"value of that feature), or None for every combination")
    if value is not None and len(value) != len(feature):
        fail(path, value, f"{feature!r} is a cross of {len(feature)} features: give {len(feature)} values, one "
             f"per feature in that order (None: every value of that feature)")
