import re

import pytest

from netbuilder import examples
from netbuilder.api import compile
from netbuilder.cli import main
from netbuilder.examples.build import EXAMPLES

REQUIRED = {"spirals_mlp", "digits_mlp", "digits_cnn", "residual_cnn", "sine_lstm",
            "textbook_mlp", "square_regression", "text_gru"}


def test_all_required_examples_ship():
    assert REQUIRED <= set(examples.names())


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_shipped_json_matches_its_builder(name):
    assert EXAMPLES[name]().to_json() == examples.text(name)


@pytest.mark.parametrize("name", examples.names())
def test_validate_exits_zero(name, capsys):
    assert main(["validate", name]) == 0
    assert "valid" in capsys.readouterr().out


@pytest.mark.parametrize("name", examples.names())
def test_summary_total_equals_compiled_parameters(name, capsys):
    assert main(["summary", name]) == 0
    out = capsys.readouterr().out
    reported = int(re.search(r"^parameters: (\d+)$", out, re.M).group(1))
    module = compile(examples.load(name))
    assert reported == sum(p.numel() for p in module.parameters())
    assert reported > 0


def test_examples_command_lists_descriptions(capsys):
    assert main(["examples"]) == 0
    out = capsys.readouterr().out
    assert "digits_cnn" in out and "handwritten digits" in out
