import pytest

from netbuilder.core import registry
from netbuilder.core.registry import LayerSpec, Param, RegistryError

REQUIRED = """Input Output Linear Conv1d Conv2d ConvTranspose2d MaxPool1d MaxPool2d AvgPool2d
AdaptiveAvgPool2d BatchNorm1d BatchNorm2d LayerNorm Dropout Flatten Reshape Permute Identity
Sigmoid Tanh ReLU LeakyReLU ELU Softplus SELU SiLU GELU Sine Softmax LogSoftmax Embedding RNN
GRU LSTM MultiheadAttention TransformerEncoderLayer Add Concat Multiply""".split()


def test_every_required_layer_type_is_registered():
    missing = [t for t in REQUIRED if not registry.has(t)]
    assert missing == []


def test_specs_are_complete():
    for spec in registry.all_specs():
        assert spec.category and spec.doc.endswith("."), spec.type
        for p in spec.params:
            assert p.check(p.default) is None, (spec.type, p.name)
        for k in spec.key_params:
            assert spec.param(k) is not None, (spec.type, k)


def test_duplicate_registration_is_an_error():
    with pytest.raises(RegistryError, match="twice"):
        registry.register(LayerSpec("Linear", "Dense", "again."))


def test_unknown_type_suggests_the_right_spelling():
    with pytest.raises(RegistryError, match="did you mean 'Conv2d'"):
        registry.get("conv2d")


@pytest.mark.parametrize("value,ok", [(3, True), (0, False), (65, False), (2.0, False),
                                      (True, False), ("3", False)])
def test_int_param_bounds_and_types(value, ok):
    p = registry.get("Conv2d").param("kernel_size")
    assert (p.check(value) is None) == ok


def test_shape_param_checks_entries():
    p = registry.get("Reshape").param("shape")
    assert p.check([-1, 4]) is None
    assert "at most once" in p.check([-1, -1])
    assert "at least 1" in p.check([0, 4])


def test_identifier_makes_python_names():
    assert registry.identifier("Conv 1") == "conv_1"
    assert registry.identifier("1st layer!") == "l_1st_layer"
    assert registry.identifier("class") == "class_"
    assert registry.identifier("   ") == "layer"


def test_param_kinds_are_validated():
    spec = registry.get("Dropout")
    assert spec.check_params({"p": 0.3}) == []
    assert spec.check_params({"p": 1.5})[0][0] == "p"
    assert "not a parameter" in spec.check_params({"rate": 0.3})[0][1]
    assert Param("x", "float", 1.0).check(float("nan")) is not None
