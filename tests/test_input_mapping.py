"""Input mapping: every tensor fed by an explicit rule; int inputs rounded and clipped."""

import numpy as np
import pytest

from tfx_edge.components.core.input_mapping import (InputMappingError, TensorSpec, dequantize, feed,
                                                    quantize, resolve, to_tensor)

IMAGE = TensorSpec("image", "float32", (-1, 64))


def test_same_name_and_explicit_mapping():
    assert resolve([IMAGE], ["image", "label"]) == {"image": "image"}
    assert resolve([IMAGE], ["pixels", "label"], {"image": "pixels"}) == {"image": "pixels"}


def test_unfed_tensor_names_tensor_and_available_features():
    with pytest.raises(InputMappingError) as error:
        resolve([TensorSpec("input_1", "float32", (-1, 64))], ["image", "label"])
    message = str(error.value)
    assert "'input_1'" in message and "['image', 'label']" in message
    assert "input_mapping={'input_1': '<feature>'}" in message


def test_mapping_to_missing_feature_and_unknown_tensor():
    with pytest.raises(InputMappingError, match="maps it to feature 'pixels'"):
        resolve([IMAGE], ["image"], {"image": "pixels"})
    with pytest.raises(InputMappingError, match=r"names tensor\(s\) \['imag'\]"):
        resolve([IMAGE], ["image"], {"imag": "image"})


def test_reshape_to_tensor_shape_and_size_mismatch():
    spec = TensorSpec("image", "float32", (-1, 8, 8, 1))
    x = np.arange(2 * 64, dtype=np.float64).reshape(2, 64)
    out = to_tensor(x, spec, "image")
    assert out.shape == (2, 8, 8, 1) and out.dtype == np.float32
    with pytest.raises(InputMappingError, match="63 values per example"):
        to_tensor(np.zeros((2, 63)), spec, "image")


def test_ragged_feature_is_refused():
    ragged = np.empty(2, dtype=object)
    ragged[:] = [[1.0], None]
    with pytest.raises(InputMappingError, match="missing in some examples"):
        to_tensor(ragged, IMAGE, "image")


def test_int8_inputs_are_rounded_and_clipped():
    spec = TensorSpec("x", "int8", (-1, 4), scale=0.5, zero_point=-1)
    q = quantize(np.array([[0.24, 0.26, 1000.0, -1000.0]], dtype=np.float32), spec)
    # 0.24/0.5=0.48 -> 0 -> -1; 0.26/0.5=0.52 -> 1 -> 0; clipped to 127 / -128
    assert q.tolist() == [[-1, 0, 127, -128]] and q.dtype == np.int8
    assert dequantize(np.array([[-1, 1]], dtype=np.int8), spec).tolist() == [[0.0, 1.0]]


def test_uint8_and_float_outputs_pass_through():
    spec = TensorSpec("x", "uint8", (-1, 2), scale=1.0, zero_point=128)
    assert quantize(np.array([[-200.0, 5.0]]), spec).tolist() == [[0, 133]]
    assert dequantize(np.array([[0.5]], dtype=np.float32), IMAGE).dtype == np.float32


def test_feed_builds_every_input():
    batch = {"image": np.ones((3, 64)), "label": np.zeros((3, 1))}
    out = feed(batch, [IMAGE], {"image": "image"})
    assert list(out) == ["image"] and out["image"].shape == (3, 64)


def test_a_batch_without_the_mapped_feature_is_a_clear_error():
    spec = TensorSpec("image", "float32", (-1, 2))
    with pytest.raises(InputMappingError, match=r"feature\(s\) \['pixels'\] .* absent"):
        feed({"label": np.zeros((2, 1))}, [spec], {"image": "pixels"})
