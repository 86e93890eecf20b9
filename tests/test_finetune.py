"""Fine-tuning: frozen parts, learning-rate multipliers, starting from other weights, the
transfer example (digits 0-4 -> 5-9), fit-the-head, and the project format keeping old
files loading."""
import json
import subprocess
import sys

import pytest
import torch

from netbuilder.api import example, fit_head, parameter_split
from netbuilder.core.graph import GraphError
from netbuilder.core.project import parse_project, project_from_data
from netbuilder.core.tuning import freeze_names, resolve_names, upstream
from netbuilder.training import checkpoint as ckpt
from netbuilder.training.init_weights import InitError, load_initial
from netbuilder.training.trainer import Trainer
from netbuilder.training.tuning import apply_tuning

from training_util import with_training


def _conv_frozen(p):
    for n in p.graph.nodes.values():
        if n.type in ("Conv2d", "BatchNorm2d"):
            p.graph.set_tuning(n.id, frozen=True)
    return p


@pytest.fixture(scope="module")
def base_run(tmp_path_factory):
    """digits_cnn trained two epochs: the checkpoint the fine-tuning tests start from."""
    out = tmp_path_factory.mktemp("base")
    p = with_training(example("digits_cnn"), epochs=2)
    Trainer(p, out_dir=out, tensorboard=False).run()
    return out / "checkpoints" / "last"


def test_frozen_convolutions_stay_bit_identical_and_hold_no_optimizer_state(base_run,
                                                                             tmp_path):
    p = _conv_frozen(with_training(example("digits_cnn"), epochs=1,
                                   init_weights=str(base_run)))
    before = ckpt.load_weights(base_run)
    trainer = Trainer(p, out_dir=tmp_path, tensorboard=False)
    result = trainer.run()
    assert result.status == "completed"
    assert any("12 tensor(s) matched" in n or "matched" in n for n in result.notices)
    after = trainer.model.state_dict()
    frozen_keys = [k for k in after if k.split(".")[0].startswith(("conv2d", "batchnorm2d"))]
    assert {k.split(".")[1] for k in frozen_keys} >= {"weight", "running_mean",
                                                       "running_var", "num_batches_tracked"}
    for k in frozen_keys:  # weights and BatchNorm statistics: bit for bit
        assert torch.equal(after[k], before[k]), k
    for k in ("linear.weight", "linear.bias"):
        assert not torch.equal(after[k], before[k]), k
    frozen_params = {id(p) for n, p in trainer.model.named_parameters()
                     if n.split(".")[0].startswith(("conv2d", "batchnorm2d"))}
    in_optimizer = {id(q) for g in trainer.optimizer.param_groups for q in g["params"]}
    assert frozen_params and not frozen_params & in_optimizer
    assert all(id(q) not in frozen_params for q in trainer.optimizer.state)
    assert all(q.grad is None for n, q in trainer.model.named_parameters()
               if id(q) in frozen_params)
    # the saved checkpoint agrees: its frozen tensors are the starting ones
    saved = ckpt.load_weights(tmp_path / "checkpoints" / "last")
    assert all(torch.equal(saved[k], before[k]) for k in frozen_keys)


def test_frozen_batchnorm_stays_in_eval_mode_whatever_train_is_called_with():
    p = _conv_frozen(example("digits_cnn"))
    from netbuilder.core.compiler import compile_graph

    model = compile_graph(p.graph)
    groups = apply_tuning(model, p.graph, 0.01)
    model.train()
    bns = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert bns and not any(m.training for m in bns)
    assert model.get_submodule("dropout").training
    assert sum(q.numel() for g in groups for q in g["params"]) == 5130  # the Linear only


def test_multipliers_make_parameter_groups_and_onecycle_peaks_follow_them(tmp_path):
    p = with_training(example("digits_cnn"), epochs=1, lr=0.002, schedule="onecycle")
    p.graph.set_tuning(p.graph.by_name("Linear").id, lr_mult=10)
    trainer = Trainer(p, tensorboard=False)
    trainer.run()
    groups = trainer.optimizer.param_groups
    assert sorted(g["lr_mult"] for g in groups) == [1.0, 10.0]
    by = {g["lr_mult"]: g for g in groups}
    assert by[10.0]["max_lr"] == pytest.approx(10 * by[1.0]["max_lr"])
    assert by[1.0]["max_lr"] == pytest.approx(0.002)


def test_everything_frozen_is_refused_before_training():
    p = example("digits_cnn")
    for n in p.graph.nodes.values():
        p.graph.set_tuning(n.id, frozen=True)
    with pytest.raises(Exception, match="nothing would train"):
        Trainer(with_training(p, epochs=1), tensorboard=False).run()


def test_transfer_beats_training_from_scratch_after_one_epoch(tmp_path):
    """The shipped example: digits_base learns 0-4; digits_transfer starts from it with the
    convolutional backbone frozen and a new head, and after its one epoch on 5-9 beats the
    same network trained from scratch with the same settings (mean over three seeds)."""
    base = Trainer(example("digits_base"), out_dir=tmp_path / "base", tensorboard=False).run()
    assert base.test["accuracy"] > 0.95
    start = str(tmp_path / "base" / "checkpoints" / "last")
    transfer, scratch = [], []
    for seed in (0, 1, 2):
        ft = with_training(example("digits_transfer"), seed=seed, init_weights=start)
        fresh = example("digits_transfer")
        for n in fresh.graph.nodes.values():
            fresh.graph.set_tuning(n.id, frozen=False)
        fresh = with_training(fresh, seed=seed)
        r = Trainer(ft, tensorboard=False).run()
        assert "2 missing" in r.notices[0]  # the new head starts fresh
        transfer.append(r.test["accuracy"])
        scratch.append(Trainer(fresh, tensorboard=False).run().test["accuracy"])
    mean_t, mean_s = sum(transfer) / 3, sum(scratch) / 3
    print(f"transfer {transfer} mean {mean_t:.3f}; scratch {scratch} mean {mean_s:.3f}")
    assert mean_t > mean_s + 0.01


def test_init_report_names_matched_missing_unexpected_and_mismatched(base_run, tmp_path):
    from netbuilder.core.compiler import compile_graph

    p = example("digits_cnn")
    p.graph.set_param(p.graph.by_name("Linear").id, "out_features", 5)  # another head width
    model = compile_graph(p.graph)
    fresh_head = model.state_dict()["linear.weight"].clone()
    report = load_initial(model, base_run)
    assert ("linear.weight", (10, 512), (5, 512)) in report.mismatched
    assert len(report.matched) == 14 - 2 and not report.missing
    assert torch.equal(model.state_dict()["linear.weight"], fresh_head)
    assert "2 with another shape" in report.text()
    # a PyTorch state_dict file, read with weights_only=True; "module." (DDP) is dropped
    pt = tmp_path / "w.pt"
    torch.save({"model": {"module." + k: v for k, v in ckpt.load_weights(base_run).items()},
                "epoch": 3}, pt)
    model2 = compile_graph(example("digits_cnn").graph)
    assert len(load_initial(model2, pt).matched) == 14
    # a pickled module is refused without running it, and nothing is changed
    whole = tmp_path / "model.pt"
    torch.save(torch.nn.Linear(2, 2), whole)
    before = {k: v.clone() for k, v in model2.state_dict().items()}
    with pytest.raises(InitError, match="Python objects besides tensors"):
        load_initial(model2, whole)
    unrelated = tmp_path / "other.pt"
    torch.save({"encoder.weight": torch.zeros(3)}, unrelated)
    with pytest.raises(InitError, match="none of its 1 tensor"):
        load_initial(model2, unrelated)
    assert all(torch.equal(before[k], v) for k, v in model2.state_dict().items())


def test_cli_train_init_freeze_and_summary(base_run, tmp_path, capsys):
    from netbuilder.cli import main

    code = main(["train", "digits_cnn", "--init", str(base_run), "--freeze",
                 "Conv2d,Conv2d 1", "--epochs", "1", "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "14 tensor(s) matched, 0 missing, 0 unexpected, 0 with another shape" in err
    saved = ckpt.load_weights(tmp_path / "run" / "checkpoints" / "last")
    start = ckpt.load_weights(base_run)
    assert torch.equal(saved["conv2d.weight"], start["conv2d.weight"])
    assert torch.equal(saved["conv2d_1.weight"], start["conv2d_1.weight"])
    assert not torch.equal(saved["batchnorm2d.running_mean"], start["batchnorm2d.running_mean"])
    assert main(["train", "digits_cnn", "--freeze", "nosuch"]) == 1
    err = capsys.readouterr().err
    assert "'nosuch': no node or block" in err and "Traceback" not in err
    assert main(["train", "digits_cnn", "--init", str(tmp_path / "none.pt")]) == 1
    assert "none.pt: no such checkpoint folder or weights file" in capsys.readouterr().err
    assert main(["summary", "digits_transfer"]) == 0
    out = capsys.readouterr().out
    assert "trainable parameters: 2565" in out and "frozen parameters: 4848" in out


def test_freeze_by_block_name_and_parameter_split():
    p = example("small_resnet")
    total = parameter_split(p.graph)[0]
    assert parameter_split(p.graph) == (total, 0)
    targets = resolve_names(p.graph, ["Basic Block"])  # the definition: every instance
    assert [p.graph.nodes[nid].name for _, nid in targets] == ["layer1"]
    freeze_names(p.graph, ["layer1"])
    trainable, frozen = parameter_split(p.graph)
    assert trainable + frozen == total and frozen == 4 * 2304 + 4 * 32
    with pytest.raises(GraphError, match="no node or block"):
        resolve_names(p.graph, ["layer9"])
    assert upstream(p.graph, p.graph.by_name("relu").id) == [
        p.graph.by_name(n).id for n in ("image", "conv1", "bn1")]


def test_fit_head_sets_the_class_count_and_keeps_everything_else():
    p = example("digits_transfer")
    p.dataset = p.dataset.model_copy(update={"options": {"digits": "all"}})
    before = {n.id: (n.params, n.frozen) for n in p.graph.nodes.values()}
    head = fit_head(p)
    assert head.name == "head" and head.params["out_features"] == 10
    assert {n.id: (n.params, n.frozen) for n in p.graph.nodes.values()
            if n.id != head.id} == {k: v for k, v in before.items() if k != head.id}
    q = example("square_regression")
    with pytest.raises(ValueError, match="not a classification"):
        fit_head(q)


def test_project_format_keeps_old_files_and_round_trips_tuning():
    old = json.loads(example("digits_cnn").to_json())
    assert "frozen" not in json.dumps(old)  # untouched projects are written as before
    p = project_from_data(old)
    p.graph.set_tuning("n2", frozen=True)
    p.graph.set_tuning("n11", lr_mult=10)
    text = p.to_json()
    back = parse_project(text)
    assert back.graph.node("n2").frozen and back.graph.node("n11").lr_mult == 10.0
    assert back.graph.signature() == p.graph.signature()
    data = json.loads(text)
    data["graph"]["nodes"][1]["lr_mult"] = -1
    with pytest.raises(Exception, match="lr_mult"):
        project_from_data(data)
    with pytest.raises(GraphError, match="multiplier"):
        p.graph.set_tuning("n2", lr_mult=0)


def test_exported_train_py_under_torchrun_keeps_frozen_layers(tmp_path):
    """train.py (2 processes, DistributedDataParallel) freezes what the project freezes:
    the frozen convolutions and BatchNorm statistics end as they started on both ranks,
    the head trains, with its multiplier."""
    import os

    from netbuilder.export import export_project

    p = _conv_frozen(example("digits_cnn"))
    p.graph.set_tuning("n11", lr_mult=10)
    export_project(p, "python", tmp_path / "src")
    text = (tmp_path / "src" / "train.py").read_text()
    assert "FROZEN = ['conv2d', 'batchnorm2d', 'conv2d_1', 'batchnorm2d_1']" in text
    assert "LR_MULTIPLIERS = {'linear': 10.0}" in text
    initial = torch.load(tmp_path / "src" / "weights.pt", weights_only=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["OMP_NUM_THREADS"] = "1"
    out = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                          "--nproc_per_node=2", "train.py", "--epochs", "1",
                          "--save-every-rank", "--out", "ck"], cwd=tmp_path / "src", env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "lr 0.03 " in out.stdout  # the head's group: 0.003 x 10
    ck = tmp_path / "src" / "ck"
    r0 = torch.load(ck / "weights_rank0.pt", weights_only=True)
    r1 = torch.load(ck / "weights_rank1.pt", weights_only=True)
    for k in r0:
        assert torch.equal(r0[k], r1[k]), k
        frozen = k.split(".")[0] in ("conv2d", "batchnorm2d", "conv2d_1", "batchnorm2d_1")
        assert torch.equal(r0[k], initial[k]) == frozen, k


def test_import_pretrained_from_torch_cache_or_says_which_file_to_put_where(
        tmp_path, monkeypatch, capsys):
    import torchvision.models as tvm

    from netbuilder.cli import main

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    folder = tmp_path / "torch" / "hub" / "checkpoints"
    args = ["import", "torchvision:resnet18", "--pretrained", "-o", str(tmp_path / "r.json")]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert (f"Put the file resnet18-f37072fd.pth (about 45 MB), from "
            f"https://download.pytorch.org/models/resnet18-f37072fd.pth, into {folder}") in err
    assert "--download" in err and not (tmp_path / "r.json").exists()

    torch.manual_seed(5)  # stand-in weights at the path torchvision's cache uses
    folder.mkdir(parents=True)
    weights = tvm.resnet18().state_dict()
    torch.save(weights, folder / "resnet18-f37072fd.pth")
    assert main(args) == 0, capsys.readouterr().err
    assert "pretrained weights: ResNet18_Weights.IMAGENET1K_V1" in capsys.readouterr().out
    saved = ckpt.load_weights(tmp_path / "r.safetensors")
    assert torch.equal(saved["conv1.weight"], weights["conv1.weight"])
    assert torch.equal(saved["fc.bias"], weights["fc.bias"])
    project = parse_project((tmp_path / "r.json").read_text())
    assert project.dataset.name == "image_folder"
    assert project.dataset.options == {"size": 224, "resize": 256, "mean": "0.485,0.456,0.406",
                                       "std": "0.229,0.224,0.225"}


def test_image_folder_resize_crop_and_fixed_normalisation(tmp_path):
    import numpy as np
    from PIL import Image

    from netbuilder.data import DataError, load

    for k, name in enumerate(("cats", "dogs")):
        (tmp_path / name).mkdir()
        for i in range(6):
            Image.new("RGB", (40, 20), (60 * k + i, 100, 200)).save(tmp_path / name / f"{i}.png")
    opts = {"path": str(tmp_path), "size": 8, "resize": 10, "mean": "0.5,0.5,0.5",
            "std": "0.25,0.5,1", "val_fraction": 0.2, "test_fraction": 0.2}
    data = load("image_folder", opts)
    assert tuple(data.train.x.shape[1:]) == (3, 8, 8)
    assert np.allclose(data.mean.ravel(), [0.5, 0.5, 0.5]) and np.allclose(
        data.std.ravel(), [0.25, 0.5, 1.0])
    blue = (200 / 255 - 0.5) / 1.0
    assert torch.allclose(data.train.x[:, 2], torch.full_like(data.train.x[:, 2], blue),
                          atol=1e-5)
    with pytest.raises(DataError, match="give 3 comma-separated"):
        load("image_folder", {**opts, "std": "1,2"})


def test_freezing_while_paused_carries_weights_and_keeps_the_frozen_layer_still():
    """Pause, freeze a layer and give the head a multiplier, resume: the frozen layer keeps
    its weights from the pause to the end and holds no optimizer state; the others carry
    their Adam state over and the head's group runs at its multiplier from the current lr."""
    from test_training_carryover import clone, paused_trainer

    p = with_training(example("digits_cnn"), epochs=1, schedule="cosine")
    trainer, th = paused_trainer(clone(p), after_steps=5)
    edited = clone(trainer.project)
    edited.graph.set_tuning("n2", frozen=True)  # the first Conv2d
    edited.graph.set_tuning("n11", lr_mult=4)  # the Linear
    lr_now = trainer.optimizer.param_groups[0]["lr"]
    linear = trainer.model.get_submodule("linear").weight
    adam = trainer.optimizer.state[linear]["exp_avg"].clone()
    report = trainer.replace_project(edited)
    assert "n2" in report.kept and "n11" in report.kept
    conv = trainer.model.get_submodule("conv2d").weight
    at_pause = conv.detach().clone()
    assert not conv.requires_grad and conv not in trainer.optimizer.state
    by = {g["lr_mult"]: g for g in trainer.optimizer.param_groups}
    assert by[4.0]["lr"] == pytest.approx(4 * lr_now) and by[1.0]["lr"] == pytest.approx(lr_now)
    new_linear = trainer.model.get_submodule("linear").weight
    assert torch.equal(trainer.optimizer.state[new_linear]["exp_avg"], adam)
    head_at_pause = new_linear.detach().clone()
    trainer.resume()
    th.join(60)
    assert torch.equal(trainer.model.get_submodule("conv2d").weight, at_pause)
    assert conv not in trainer.optimizer.state
    assert not torch.equal(trainer.model.get_submodule("linear").weight, head_at_pause)


def test_grouping_and_ungrouping_keep_what_is_frozen():
    from netbuilder.core.grouping import group, regroup, ungroup

    p = example("digits_cnn")
    g = p.graph
    g.set_tuning("n2", frozen=True)
    inst = group(g, ["n2", "n3", "n4"], "Stem")
    assert g.blocks["Stem"].node("n2").frozen  # the frozen layer stays frozen inside
    g.set_tuning(inst.id, frozen=True, lr_mult=0.5)
    done = ungroup(g, inst.id)
    assert all(n.frozen and n.lr_mult == 0.5 for n in done.nodes)  # the instance's setting
    back = regroup(g, done)
    assert back.frozen and back.lr_mult == 0.5
