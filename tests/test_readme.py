"""The README's Python API example must run as written."""
import re
from pathlib import Path


def test_readme_python_example_runs(tmp_path, monkeypatch, capsys):
    text = (Path(__file__).parents[1] / "README.md").read_text()
    code = re.search(r"## Python API\s+```python\n(.*?)```", text, re.S).group(1)
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "README.md", "exec"), {})
    out = capsys.readouterr().out
    assert "torch.Size([2, 10])" in out
    assert (tmp_path / "tiny.json").exists()
