"""Shapes soon after launch: the quick CPU pass, FLOPs counted after it, the on-disk cache."""
import json
import os
import subprocess
import sys

import pytest

from netbuilder.api import Graph, example
from netbuilder.core import shapecache, shapes
from netbuilder.core.shapes import ShapeInference
from netbuilder.examples import names


@pytest.fixture
def fresh_cache():
    saved = dict(shapes._CACHE), dict(shapes.QUICK)
    shapes._CACHE.clear()
    shapes.QUICK.update(on=False, spent_s=0.0)
    yield
    shapes._CACHE.clear()
    shapes._CACHE.update(saved[0])
    shapes.QUICK.clear()
    shapes.QUICK.update(saved[1])


def infer(graph):
    with shapes.inference(graph) as si:
        return dict(si.update())


@pytest.mark.parametrize("name", names())
def test_the_quick_pass_gives_the_meta_shapes_and_the_flops_follow(fresh_cache, name):
    graph = example(name).graph
    full = infer(graph)
    shapes._CACHE.clear()
    shapes.quick_first_pass(True)
    si = ShapeInference(graph)
    try:
        quick = dict(si.update())
        assert {k: (i.output, i.params, i.error) for k, i in quick.items()} == \
            {k: (i.output, i.params, i.error) for k, i in full.items()}
        assert any(i.flops_pending for i in quick.values())
        assert not si.dirty  # nothing to do while the quick pass is on
        shapes.quick_first_pass(False)
        assert si.dirty  # the FLOPs are owed
        assert si.update() == full
        assert not si.dirty
    finally:
        si.close()


def test_the_quick_pass_does_not_import_dynamo():
    code = ("import sys, torch; from netbuilder.core import shapes;"
            "from netbuilder.api import example; from netbuilder.examples import names;"
            "shapes.quick_first_pass(True); shapes.QUICK['budget_s'] = 1e9;"  # not speed-bound
            "[shapes.ShapeInference(example(n).graph).update() for n in names()];"
            "print('torch._dynamo' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "False"


def test_big_layers_and_shape_errors_take_the_meta_path(fresh_cache):
    g = Graph()
    inp = g.add_node("Input", "x", {"shape": [3000]})
    big = g.add_node("Linear", "big", {"out_features": 3000})
    img = g.add_node("Input", "img", {"shape": [1, 4, 4]})
    conv = g.add_node("Conv2d", "conv", {"out_channels": 2, "kernel_size": 7})
    g.connect(inp.id, big.id)
    g.connect(img.id, conv.id)
    full = infer(g)
    shapes._CACHE.clear()
    shapes.quick_first_pass(True)
    quick = infer(g)
    assert not quick[big.id].flops_pending and quick[big.id].flops == full[big.id].flops > 0
    assert quick[conv.id].error == full[conv.id].error and "Conv2d" in full[conv.id].error


def test_the_cache_on_disk_answers_without_evaluating(fresh_cache, tmp_path):
    graph = example("digits_cnn").graph
    full = infer(graph)
    path = tmp_path / "shapes.json"
    assert shapecache.save(path) == len(graph.nodes)
    shapes._CACHE.clear()
    assert shapecache.cached_infos(graph) is None
    assert shapecache.load(path) == len(graph.nodes)
    before = shapes.stats["evaluations"]
    assert shapecache.cached_infos(graph) == full
    assert infer(graph) == full
    assert shapes.stats["evaluations"] == before


def test_saving_the_cache_after_a_block_project_keeps_its_layers(fresh_cache, tmp_path):
    graph = example("small_resnet").graph
    infer(graph)  # block instances have cache entries of their own (not stored)
    path = tmp_path / "shapes.json"
    assert shapecache.save(path) > 0
    stored = {row[0] for row in json.loads(path.read_text())["entries"]}
    assert {"Conv2d", "BatchNorm2d", "Add"} <= stored and "Block" not in stored


def test_a_damaged_or_foreign_cache_is_ignored(fresh_cache, tmp_path):
    infer(example("spirals_mlp").graph)
    path = tmp_path / "shapes.json"
    shapecache.save(path)
    data = json.loads(path.read_text())
    shapes._CACHE.clear()
    for broken in ({**data, "fingerprint": "0" * 64},
                   {**data, "entries": [[*data["entries"][0][:2], [[[None, -3], "float32"]],
                                         *data["entries"][0][3:]]]},
                   {**data, "entries": [["Linear", "{}"]]}, [1, 2]):
        path.write_text(json.dumps(broken))
        assert shapecache.load(path) == 0
    path.write_text(json.dumps(data)[:50])
    assert shapecache.load(path) == 0
    assert shapecache.load(tmp_path / "missing.json") == 0
    assert not shapes._CACHE


def test_quick_results_and_generic_layers_are_not_stored(fresh_cache, tmp_path):
    g = Graph()
    g.chain(g.add_node("Input", "x", {"shape": [4]}), ("Linear", {"out_features": 3}),
            ("Module", {"target": "torch.nn:ReLU"}), "Output")
    path = tmp_path / "s.json"

    def stored():
        shapecache.save(path)
        return sorted(row[0] for row in json.loads(path.read_text())["entries"])

    shapes.quick_first_pass(True)
    infer(g)
    assert stored() == ["Input"]  # Linear's and Output's FLOPs are owed; Module is generic
    shapes.quick_first_pass(False)
    infer(g)
    assert stored() == ["Input", "Linear", "Output"]


def _launch(state_dir):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", NETBUILDER_REPORT_STARTUP="1",
               NETBUILDER_QUIT_AFTER_SHAPES="1", NETBUILDER_NO_RECOVERY="1",
               NETBUILDER_STATE_DIR=str(state_dir))
    r = subprocess.run([sys.executable, "-m", "netbuilder", "gui", "digits_cnn"], env=env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    return next(line for line in r.stdout.splitlines() if line.startswith("shapes_s:"))


def test_a_relaunch_shows_shapes_before_torch_is_imported(tmp_path):
    assert _launch(tmp_path).endswith("(torch imported: yes)")
    assert (tmp_path / "shape-cache.json").exists()
    assert _launch(tmp_path).endswith("(torch imported: no)")
