"""`netbuilder trace`: one sample forward, the loss, backward and one optimizer step, checked
against the same network computed by hand with torch ops."""
import dataclasses
import json

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import save_file

from netbuilder import examples
from netbuilder.cli import main
from netbuilder.core.compiler import compile_graph
from netbuilder.insight.stepper import InsightError, Stepper


def run_json(capsys, *argv):
    assert main(["trace", *argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.fixture
def textbook_weights(tmp_path):
    """Fixed, distinct weights for the textbook MLP (3 → 3 → 3 → 2), saved as safetensors."""
    model = compile_graph(examples.load("textbook_mlp").graph)
    state = {}
    for i, (key, v) in enumerate(model.state_dict().items()):
        n = v.numel()
        state[key] = torch.linspace(-0.9 + 0.1 * i, 0.8 - 0.05 * i, n).reshape(v.shape)
    path = tmp_path / "w.safetensors"
    save_file(state, str(path))
    return path, state


def test_trace_of_the_textbook_mlp_matches_a_forward_pass_by_hand(capsys, textbook_weights):
    path, w = textbook_weights
    out = run_json(capsys, "textbook_mlp", "--input", "0.5,-1,2", "--target", "1",
                   "--weights", str(path))
    # the same network by hand, from the weights alone
    params = {k: v.clone().requires_grad_(True) for k, v in w.items()}
    x = torch.tensor([0.5, -1.0, 2.0])
    z1 = params["linear.weight"] @ x + params["linear.bias"]
    h1 = torch.sigmoid(z1)
    z2 = params["linear_1.weight"] @ h1 + params["linear_1.bias"]
    h2 = torch.sigmoid(z2)
    z3 = params["linear_2.weight"] @ h2 + params["linear_2.bias"]
    p = torch.softmax(z3, 0)
    loss = ((p - torch.tensor([0.0, 1.0])) ** 2).mean()  # mse on the one-hot class 1
    hand = [x, z1, h1, z2, h2, z3, p, p]
    for t in (z1, h1, z2, h2, z3, p):
        t.retain_grad()
    loss.backward()

    nodes = out["nodes"]
    assert [n["type"] for n in nodes] == ["Input", "Linear", "Sigmoid", "Linear", "Sigmoid",
                                          "Linear", "Softmax", "Output"]
    assert [n["name"] for n in nodes][:3] == ["features", "Linear", "Sigmoid"]
    for node, value in zip(nodes, hand):
        assert torch.allclose(torch.tensor(node["output"]), value.detach(), atol=1e-6), \
            node["name"]
    assert out["loss"] == pytest.approx(loss.item(), rel=1e-6)
    # d loss / d each node's output
    for node, t in zip(nodes[1:7], (z1, h1, z2, h2, z3, p)):
        assert torch.allclose(torch.tensor(node["grad"]), t.grad, atol=1e-7), node["name"]
    # params: exactly the state_dict's keys; values the weights given; grads autograd's
    assert set(out["params"]) == set(w)
    lr = examples.load("textbook_mlp").training.lr
    for key, entry in out["params"].items():
        assert torch.allclose(torch.tensor(entry["value"]), w[key])
        grad = params[key].grad
        assert torch.allclose(torch.tensor(entry["grad"]), grad, atol=1e-7), key
        # SGD's first step (momentum has no history yet): ΔW = −lr·∇W
        # (float32: W + ΔW rounds ΔW to ~1e-7 of W)
        assert torch.allclose(torch.tensor(entry["update"]), -lr * grad, atol=1e-7), key
    assert out["loss_after_step"] < out["loss"]


def test_trace_inside_blocks_names_nested_layers_and_matches_autograd(capsys):
    project = examples.load("small_resnet")
    out = run_json(capsys, "small_resnet", "--sample", "2")
    names = [n["name"] for n in out["nodes"]]
    # each copy of the repeated block has its own layers, then the block node itself
    i0, i1 = names.index("layer1 › 0 › conv1"), names.index("layer1 › 1 › conv1")
    assert i0 < i1 < names.index("layer1") < names.index("fc")
    assert names[-1] == "Output"
    # the independent pass: the compiled model itself, on the same sample
    stepper = Stepper(project)
    from netbuilder.data import load
    data = load(project.dataset.name, project.dataset.options, seed=project.training.seed)
    x, y = data.batch(data.test, slice(2, 3))
    model = compile_graph(project.graph, seed=project.training.seed).eval()
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    assert out["loss"] == pytest.approx(loss.item(), rel=1e-5)
    assert set(out["params"]) == set(model.state_dict())
    for key, p in model.named_parameters():
        assert torch.allclose(torch.tensor(out["params"][key]["grad"]), p.grad, atol=1e-6), key
    by_name = dict(zip(names, out["nodes"]))
    inner = by_name["layer1 › 1 › relu_out"]["output"]
    assert torch.allclose(torch.tensor(inner), model.layer1[1](model.layer1[0](
        model.relu(model.bn1(model.conv1(x)))))[0], atol=1e-5)
    assert stepper.output_shape == (10,)


def test_text_output_and_every_node_has_a_line(capsys):
    assert main(["trace", "textbook_mlp", "--input", "1,2,3", "--target", "0,1"]) == 0
    text = capsys.readouterr().out
    assert "loss (mse):" in text and "linear_2.weight" in text
    assert text.count("grad [") == 8


@pytest.mark.parametrize("argv, message", [
    (["--input", "1,2", "--target", "1"], "takes 3 value(s)"),
    (["--input", "1,x,3", "--target", "1"], "give numbers separated by commas"),
    (["--input", "1,2,3"], "--input needs --target"),
    (["--input", "1,2,3", "--target", "5"], "a class id between 0 and 1"),
    (["--input", "1,2,3", "--target", "1", "--loss", "bogus"], "choose one of"),
    (["--sample", "99999"], "the test split has"),
    (["--input", "1,2,3", "--target", "1", "--weights", "missing.safetensors"],
     "no such checkpoint"),
])
def test_bad_input_is_one_clear_line(capsys, argv, message):
    assert main(["trace", "textbook_mlp", *argv]) == 1
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and err.startswith("error: ")


def test_weights_that_do_not_fit_are_refused(tmp_path):
    path = tmp_path / "other.safetensors"
    save_file({"linear.weight": torch.zeros(2, 2)}, str(path))
    with pytest.raises(InsightError, match="do not fit this graph"):
        Stepper(examples.load("textbook_mlp"), weights=path)


def test_the_step_is_the_optimizers_own_for_adam():
    project = examples.load("textbook_mlp")
    project = dataclasses.replace(project, training=project.training.model_copy(
        update={"optimizer": "adam", "lr": 0.01}))
    stepper = Stepper(project)
    ref = compile_graph(project.graph, seed=project.training.seed).eval()
    opt = torch.optim.Adam(ref.parameters(), lr=0.01)
    x = stepper.input_from_values([0.2, 0.4, -0.3])
    stepper.trace(x, stepper.target_from_values([0]))
    res = stepper.step()
    before = {k: p.detach().clone() for k, p in ref.named_parameters()}
    loss = F.mse_loss(ref(x), torch.tensor([[1.0, 0.0]]))
    loss.backward()
    opt.step()
    for k, p in ref.named_parameters():
        # Adam's first step moves each weight by about lr (0.01); p_after - p_before in
        # float32 is exact to an ulp of the weight (~6e-8 here), so 1e-6 tells the real
        # update from any other rule (SGD's -lr*g would be off by orders more)
        assert torch.allclose(res.deltas[k], p.detach() - before[k], rtol=0, atol=1e-6)
        assert res.deltas[k].abs().max() > 1e-3  # the weights did move
    assert "adam" in res.rule


def test_an_overflowing_network_still_gives_strict_json(capsys, tmp_path):
    model = compile_graph(examples.load("textbook_mlp").graph)
    path = tmp_path / "huge.safetensors"
    save_file({k: torch.full_like(v, 3e38) for k, v in model.state_dict().items()}, str(path))
    assert main(["trace", "textbook_mlp", "--input", "1,1,1", "--target", "1", "--weights",
                 str(path), "--json"]) == 0

    def refuse(name):
        raise AssertionError(f"{name} is not JSON")
    out = json.loads(capsys.readouterr().out, parse_constant=refuse)
    linear = out["nodes"][1]
    assert linear["output"] == [None, None, None]  # inf: null, the rest stays numbers
    assert out["nodes"][0]["output"] == [1.0, 1.0, 1.0]


def test_trace_of_a_two_output_block_gives_each_port_its_shape_and_values(capsys, tmp_path):
    from test_blocks_outputs import unet_classifier

    project = unet_classifier()
    path = tmp_path / "unet.json"
    path.write_text(project.to_json())
    x = torch.linspace(-1, 1, 3 * 8 * 8).reshape(1, 3, 8, 8)
    values = ",".join(f"{v:.6g}" for v in x.reshape(-1).tolist())
    out = run_json(capsys, str(path), f"--input={values}", "--target", "1")
    block = next(n for n in out["nodes"] if n["name"] == "down1")
    assert list(block["ports"]) == ["down", "skip"]
    model = compile_graph(project.graph, seed=project.training.seed).eval()
    with torch.no_grad():
        down, skip = model.down1(torch.tensor([float(v) for v in values.split(",")])
                                 .reshape(1, 3, 8, 8))
    assert block["ports"]["down"]["shape"] == [6, 4, 4]
    assert block["ports"]["skip"]["shape"] == [6, 8, 8]
    assert torch.allclose(torch.tensor(block["ports"]["down"]["output"]), down[0], atol=1e-5)
    assert torch.allclose(torch.tensor(block["ports"]["skip"]["output"]), skip[0], atol=1e-5)
    assert torch.tensor(block["ports"]["skip"]["grad"]).shape == (6, 8, 8)
    # the text report: a line pair per port
    assert main(["trace", str(path), f"--input={values}", "--target", "1"]) == 0
    text = capsys.readouterr().out
    assert "down 6×4×4" in text and "skip 6×8×8" in text
