"""Bad input from Python raises a clear exception of the right type and leaves every operand intact."""

import math

import pytest

import prism
from _helpers import extra_devices, np


def operands():
    a = prism.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    b = prism.tensor([1, 2, 3], dtype=prism.int32)
    m = prism.tensor([True, False])
    return a, b, m


# (id, fn(a, b, m), expected exception type). a: float32 (2, 3); b: int32 (3,); m: bool (2,).
CASES = [
    # wrong Python argument types: TypeError before reaching C
    ("add_str", lambda a, b, m: a + "x", TypeError),
    ("radd_list_of_str", lambda a, b, m: ["x"] + a, TypeError),
    ("matmul_scalar", lambda a, b, m: a @ 2, ValueError),
    ("sum_dim_str", lambda a, b, m: a.sum(dim="0"), TypeError),
    ("sum_dim_float", lambda a, b, m: a.sum(dim=0.5), TypeError),
    ("view_float_size", lambda a, b, m: a.view(2.0, 3), TypeError),
    ("reshape_str", lambda a, b, m: a.reshape("6"), TypeError),
    ("transpose_none", lambda a, b, m: a.transpose(None, 1), TypeError),
    ("to_bad_dtype", lambda a, b, m: a.to(dtype="float32"), TypeError),
    ("zeros_bad_dtype", lambda a, b, m: prism.zeros(2, dtype="float32"), TypeError),
    ("zeros_float_size", lambda a, b, m: prism.zeros(2.5), TypeError),
    ("zeros_bad_device_type", lambda a, b, m: prism.zeros(2, device=3.5), TypeError),
    ("tensor_of_strings", lambda a, b, m: prism.tensor(["a", "b"]), TypeError),
    ("tensor_of_dicts", lambda a, b, m: prism.tensor([{}]), TypeError),
    ("index_float", lambda a, b, m: a[1.5], TypeError),
    ("index_str", lambda a, b, m: a["x"], TypeError),
    ("setitem_str_value", lambda a, b, m: a.__setitem__(0, "x"), TypeError),
    ("cat_not_list", lambda a, b, m: prism.cat(a), TypeError),
    ("cat_list_with_int", lambda a, b, m: prism.cat([a, 1]), TypeError),
    ("where_cond_list", lambda a, b, m: prism.where([True], a, a), TypeError),
    ("from_numpy_list", lambda a, b, m: prism.from_numpy([1.0]), TypeError),
    ("from_dlpack_int", lambda a, b, m: prism.from_dlpack(3), TypeError),
    ("register_hook_not_callable", lambda a, b, m: prism.ones(1, requires_grad=True).register_hook(3), TypeError),
    ("fill_str", lambda a, b, m: a.fill_("x"), TypeError),
    ("len_0d", lambda a, b, m: len(prism.tensor(1.0)), TypeError),
    ("index_float_tensor", lambda a, b, m: a[prism.tensor([0.0])], TypeError),
    ("bitwise_float", lambda a, b, m: a & a, TypeError),
    ("invert_float", lambda a, b, m: ~a, TypeError),
    ("requires_grad_int", lambda a, b, m: b.requires_grad_(), TypeError),
    ("mean_int", lambda a, b, m: b.mean(), TypeError),
    ("inplace_float_into_int", lambda a, b, m: b.add_(prism.tensor([0.5, 0.5, 0.5])), TypeError),
    ("inplace_iadd_float_into_int", lambda a, b, m: b.__iadd__(prism.tensor([0.5, 0.5, 0.5])), TypeError),
    ("numpy_bfloat16", lambda a, b, m: a.to(prism.bfloat16).numpy(), TypeError),
    # shapes: ValueError-ish (InvalidArgumentError)
    ("add_shape_mismatch", lambda a, b, m: a + prism.ones(2), ValueError),
    ("mul_shape_mismatch", lambda a, b, m: a * prism.ones(4, 1, 2), ValueError),
    ("matmul_inner_mismatch", lambda a, b, m: a @ a, ValueError),
    ("view_wrong_numel", lambda a, b, m: a.view(4, 2), ValueError),
    ("view_two_minus_one", lambda a, b, m: a.view(-1, -1), ValueError),
    ("reshape_wrong_numel", lambda a, b, m: a.reshape(7), ValueError),
    ("expand_bad", lambda a, b, m: a.expand(3, 3), ValueError),
    ("permute_not_permutation", lambda a, b, m: a.permute(0, 0), ValueError),
    ("cat_shape_mismatch", lambda a, b, m: prism.cat([a, prism.ones(2, 2)], dim=0), ValueError),
    ("stack_shape_mismatch", lambda a, b, m: prism.stack([a, prism.ones(3, 2)]), ValueError),
    ("inplace_broadcast_grows", lambda a, b, m: prism.ones(3).add_(a), ValueError),
    ("copy_shape_mismatch", lambda a, b, m: a.copy_(prism.ones(4)), ValueError),
    ("mask_shape_mismatch", lambda a, b, m: a[prism.tensor([True, False, True, False])], (ValueError, IndexError)),
    ("bool_of_many", lambda a, b, m: bool(a), ValueError),
    ("item_of_many", lambda a, b, m: a.item(), ValueError),
    ("backward_non_scalar", lambda a, b, m: (prism.ones(2, requires_grad=True) * 2).backward(), ValueError),
    ("backward_no_grad", lambda a, b, m: a.sum().backward(), ValueError),
    ("set_grad_wrong_shape", lambda a, b, m: setattr(prism.ones(2, requires_grad=True), "grad", prism.ones(3)),
     ValueError),
    ("slice_step_zero", lambda a, b, m: a[::0], ValueError),
    ("slice_negative_step", lambda a, b, m: a[::-1], ValueError),
    ("arange_zero_step", lambda a, b, m: prism.arange(0, 5, 0), ValueError),
    ("linspace_negative", lambda a, b, m: prism.linspace(0, 1, -1), ValueError),
    ("empty_negative_size", lambda a, b, m: prism.empty(-1), ValueError),
    ("ragged_list", lambda a, b, m: prism.tensor([[1, 2], [3]]), ValueError),
    ("device_bad_string", lambda a, b, m: prism.device("nope nope"), ValueError),
    ("div_bad_mode", lambda a, b, m: a.div(a, rounding_mode="up"), ValueError),
    ("fallback_bad_policy", lambda a, b, m: prism.set_fallback_policy("maybe"), ValueError),
    ("randint_low_ge_high", lambda a, b, m: prism.randint(5, 5, (2,)), ValueError),
    ("too_many_dims", lambda a, b, m: prism.zeros(*([1] * 17)), ValueError),
    # indices and dims: IndexError
    ("index_out_of_range", lambda a, b, m: a[5], IndexError),
    ("index_negative_out_of_range", lambda a, b, m: a[-3], IndexError),
    ("index_second_dim", lambda a, b, m: a[0, 3], IndexError),
    ("index_too_many", lambda a, b, m: a[0, 0, 0], IndexError),
    ("index_0d", lambda a, b, m: prism.tensor(1.0)[0], IndexError),
    ("index_tensor_out_of_range", lambda a, b, m: a[prism.tensor([0, 2])], IndexError),
    ("index_list_out_of_range", lambda a, b, m: a[:, [0, 7]], IndexError),
    ("setitem_out_of_range", lambda a, b, m: a.__setitem__(9, 1.0), IndexError),
    ("sum_dim_out_of_range", lambda a, b, m: a.sum(dim=2), IndexError),
    ("transpose_dim_out_of_range", lambda a, b, m: a.transpose(0, 5), IndexError),
    ("unsqueeze_out_of_range", lambda a, b, m: a.unsqueeze(4), IndexError),
    ("select_out_of_range", lambda a, b, m: a.select(0, 2), IndexError),
    ("size_dim_out_of_range", lambda a, b, m: a.size(3), IndexError),
    ("stride_dim_out_of_range", lambda a, b, m: a.stride(-3), IndexError),
    ("gather_index_out_of_range", lambda a, b, m: a.gather(1, prism.tensor([[0], [3]])), IndexError),
    ("index_select_out_of_range", lambda a, b, m: a.index_select(0, prism.tensor([2])), IndexError),
    # devices and plugins
    ("unknown_device", lambda a, b, m: prism.zeros(2, device="nodevice:0"), prism.Error),
    ("missing_plugin", lambda a, b, m: prism.load_plugin("/no/such/libprism-x.so"), prism.UnavailableError),
    ("pin_memory_device_tensor", lambda a, b, m: a.to("nodevice"), prism.Error),
    # NaN where it matters
    ("arange_nan_start", lambda a, b, m: prism.arange(math.nan, 5.0), ValueError),
    ("int_from_nan", lambda a, b, m: int(prism.tensor(math.nan)), ValueError),
    ("arange_nan", lambda a, b, m: prism.arange(0, math.nan), ValueError),
    ("linspace_steps_float", lambda a, b, m: prism.linspace(0, 1, 2.5), TypeError),
    # released or consumed objects
    ("dlpack_capsule_reused", lambda a, b, m: _consume_twice(a), (ValueError, TypeError)),
    ("uninitialised_tensor", lambda a, b, m: prism._C.TensorBase.__add__(_uninit(), a), (TypeError, ValueError)),
    ("hook_without_grad", lambda a, b, m: prism.ones(1).register_hook(lambda g: g), prism.Error),
]


def _consume_twice(a):
    cap = a.__dlpack__()
    prism.from_dlpack(cap)
    prism.from_dlpack(cap)


def _uninit():
    return prism._C.TensorBase.__new__(prism.Tensor)


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_input_raises_and_leaves_operands_intact(case):
    _, fn, exc = case
    a, b, m = operands()
    before = (a.tolist(), b.tolist(), m.tolist(), a.shape, b.dtype)
    with pytest.raises(exc):
        fn(a, b, m)
    assert (a.tolist(), b.tolist(), m.tolist(), a.shape, b.dtype) == before


def test_case_count():
    assert len(CASES) >= 50


def test_errors_carry_prism_message_and_base_class():
    a, _, _ = operands()
    with pytest.raises(prism.Error) as e:
        a + prism.ones(5)
    msg = str(e.value)
    assert "add" in msg and "[2, 3]" in msg and "[5]" in msg
    assert isinstance(e.value, RuntimeError) and isinstance(e.value, ValueError)
    with pytest.raises(RuntimeError):  # ported `except RuntimeError` code keeps working
        a[10]
    assert issubclass(prism.OutOfMemoryError, MemoryError)
    assert issubclass(prism.FileError, OSError)
    assert issubclass(prism.DTypeError, TypeError) and issubclass(prism.IndexOutOfRangeError, IndexError)


def test_huge_allocation_is_memory_error():
    with pytest.raises((MemoryError, ValueError)):
        prism.empty(1 << 62, dtype=prism.uint8)
    assert prism.ones(2).sum().item() == 2  # the runtime still works


@pytest.mark.parametrize("dev", extra_devices())
def test_mixing_devices_names_both(dev):
    a = prism.ones(2)
    b = prism.ones(2, device=dev)
    with pytest.raises(prism.Error) as e:
        a + b
    assert "cpu" in str(e.value) and dev.split(":")[0] in str(e.value)
    assert a.tolist() == [1, 1] and b.tolist() == [1, 1]


@pytest.mark.skipif(np is None, reason="skipped: numpy not installed")
def test_numpy_array_kept_alive_after_tensor_error():
    arr = np.ones(3, dtype=np.float32)
    t = prism.from_numpy(arr)
    with pytest.raises(ValueError):
        t.view(2, 2)
    assert arr.tolist() == [1, 1, 1] and t.tolist() == [1, 1, 1]
