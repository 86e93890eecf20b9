"""Only netbuilder.ui may import Qt; the core must not even pull it in indirectly."""
import subprocess
import sys

CODE = """
import sys
import netbuilder.api, netbuilder.cli
from netbuilder.api import compile, example, validate
compile(example('digits_cnn')); validate(example('residual_cnn'))
bad = sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'pyqtgraph', 'shiboken6')
             or m.startswith('netbuilder.ui'))
print(bad)
"""


def test_core_api_and_cli_do_not_load_qt():
    out = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


def test_listing_examples_does_not_import_torch():
    code = ("import sys; from netbuilder.cli import main; main(['examples']); "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip().endswith("False")
