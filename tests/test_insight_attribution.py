"""What a trained digits CNN looks at (captum attributions) and how it organises the test set
(the embedding projector), before and after a short training run."""
import numpy as np
import pytest
import torch
from PySide6.QtCore import QPoint, QPointF, Qt

from netbuilder import examples
from netbuilder.insight.attribution import attribute, attribute_batch, conv_layers, \
    mass_inside
from netbuilder.insight.projector import project
from netbuilder.insight.stepper import InsightError
from netbuilder.insight.workspace import from_evaluation, from_project
from netbuilder.training import Trainer
from netbuilder.training.evaluation import evaluate_run

EPOCHS = 3


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("digits_cnn")
    result = Trainer(examples.load("digits_cnn"), out_dir=out, epochs=EPOCHS,
                     tensorboard=False).run()
    assert result.status == "completed" and result.test["accuracy"] > 0.9
    return out


@pytest.fixture(scope="module")
def trained(run):
    return from_evaluation(evaluate_run(run))


def test_grad_cam_puts_more_mass_on_the_digit_than_on_the_background(trained):
    ws = trained
    graph = ws.project.graph
    layers = conv_layers(ws.model, graph, ws.x[:1])
    assert [name for _, name, _ in layers] == ["ReLU", "ReLU 1"]  # each conv's features
    x, y = ws.x[:120], ws.y[:120]
    cams, predicted, name = attribute_batch(ws.model, graph, x, "gradcam",
                                            baseline=ws.baseline(), layer=layers[0][0])
    assert name == "ReLU" and cams.shape == (120, 8, 8)
    on_digit = off_digit = 0.0
    right = explained = 0
    for i in np.flatnonzero(predicted == y):  # what it looked at when it was right
        right += 1
        total = cams[i].sum()
        if total == 0:  # no positive evidence anywhere (Grad-CAM keeps only positive)
            continue
        explained += 1
        ink = ws.shown[i, 0] > 0  # the digit's pixels: every pixel with ink
        inside, outside = mass_inside(cams[i] / total, ink)
        on_digit, off_digit = on_digit + inside, off_digit + outside
    # one sample through attribute() is the same as its row of the batch
    one = attribute(ws.model, graph, x[3:4], "gradcam", baseline=ws.baseline(),
                    layer=layers[0][0])
    assert one.target == predicted[3] and np.allclose(one.values, cams[3], atol=1e-6)
    assert right > 100 and explained > 80
    assert on_digit > off_digit


def test_integrated_gradients_add_up_to_the_change_of_the_score(trained):
    """IG's completeness: the attributions sum to f(x) − f(baseline) for the class."""
    ws = trained
    x, _ = ws.sample(5)
    a = attribute(ws.model, ws.project.graph, x, "integrated_gradients",
                  baseline=ws.baseline())
    with torch.no_grad():
        scores = ws.model(x)[0, a.target] - ws.model(ws.baseline())[0, a.target]
    assert a.values.sum() == pytest.approx(float(scores), rel=0.05, abs=0.05)
    for method in ("saliency", "occlusion"):
        b = attribute(ws.model, ws.project.graph, x, method, baseline=ws.baseline())
        assert b.values.shape == (1, 8, 8) and np.abs(b.values).sum() > 0


def test_attributions_refuse_what_they_cannot_explain():
    ws = from_project(examples.load("spirals_mlp"))
    x, _ = ws.sample(0)
    with pytest.raises(InsightError, match="Grad-CAM needs a 2-D convolution"):
        attribute(ws.model, ws.project.graph, x, "gradcam")
    a = attribute(ws.model, ws.project.graph, x, "saliency")  # tabular: one value a feature
    assert a.values.shape == tuple(x.shape[1:])
    text = from_project(examples.load("text_gru"))
    with pytest.raises(InsightError, match="token ids"):
        attribute(text.model, text.project.graph, text.sample(0)[0], "saliency")


def test_training_separates_the_classes_in_the_projector(trained):
    before = from_project(examples.load("digits_cnn"))
    assert not before.trained and torch.equal(before.x, trained.x)  # the same test split
    p0 = project(before.model, before.project.graph, before.x, before.labels)
    p1 = project(trained.model, trained.project.graph, trained.x, trained.labels)
    assert p0.name == p1.name == "Dropout"  # the penultimate layer: what the last Linear sees
    assert p1.points.shape == (len(trained.y), 2)
    assert p1.silhouette > p0.silhouette


def test_the_insight_tab_refreshes_its_projector_and_draws_grad_cam_after_a_run(qtbot, run):
    from netbuilder.ui.document.document import Document
    from netbuilder.ui.insight.panel import InsightPanel

    panel = InsightPanel(Document(examples.load("digits_cnn")))
    qtbot.addWidget(panel)
    panel.resize(1100, 520)
    panel.show()
    panel.tabs.setCurrentWidget(panel.projector)
    with qtbot.waitSignal(panel.projector.projected, timeout=60000):
        panel.set_evaluation(evaluate_run(run))  # as the main window does after a run
    proj = panel.projector
    assert proj.error == "" and "silhouette" in proj.note.text()
    assert proj.points is not None and len(proj.points.data) == len(panel.workspace.y)
    # hover point 7 with the mouse: the side shows its sample (or a point drawn over it)
    vb = proj.plot.getPlotItem().vb

    def on_screen(i):
        x, y = (float(v) for v in proj.projection.points[i])
        return proj.plot.mapFromScene(vb.mapViewToScene(QPointF(x, y)))
    qtbot.waitUntil(lambda: proj.plot.isVisible())
    for dx in (0, 1):
        qtbot.mouseMove(proj.plot.viewport(), on_screen(7) + QPoint(dx, 0))
    qtbot.waitUntil(lambda: proj.hover_text.text().startswith("test sample "))
    hovered = int(proj.hover_text.text().split(":")[0].split()[-1])
    assert (on_screen(hovered) - on_screen(7)).manhattanLength() <= 12
    assert len(proj.hover.items) == 1

    panel.index.setValue(4)
    qtbot.mouseClick(panel.start_btn, Qt.MouseButton.LeftButton)
    panel.tabs.setCurrentWidget(panel.attribution)
    view = panel.attribution
    assert view.method.currentData() == "gradcam" and view.layer.currentText() == "ReLU 1"
    with qtbot.waitSignal(view.explained):
        qtbot.mouseClick(view.explain_btn, Qt.MouseButton.LeftButton)
    assert view.result is not None and view.result.layer == "ReLU 1"
    assert [c for _, c, _ in view.images.items] == ["input", "attribution", "overlay"]
    assert "trained weights" in view.note.text()


def test_a_step_after_a_run_continues_its_optimizer(run, trained):
    """Adam's moments come from the checkpoint: the step is the one training takes next,
    not a fresh Adam's first step (which moves every weight by about lr)."""
    from netbuilder.training import checkpoint as ckpt

    x, y = trained.sample(0)
    lr = trained.project.training.lr
    stepper = trained.stepper()
    assert type(stepper.optimizer).__name__ == "Adam"
    stepper.trace(x, y)
    continued = stepper.step().deltas["linear.weight"]
    fresh = trained.stepper()
    fresh.optimizer = torch.optim.Adam(fresh.model.parameters(), lr=lr)
    fresh.trace(x, y)
    assert not torch.allclose(continued, fresh.step().deltas["linear.weight"])
    # the same update by hand: the trained weights, Adam with the saved state
    model = evaluate_run(run).model
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    opt.load_state_dict(ckpt.load(trained.checkpoint).optimizer)
    before = model.linear.weight.detach().clone()
    torch.nn.functional.cross_entropy(model(x), y).backward()
    opt.step()
    assert torch.allclose(model.linear.weight.detach() - before, continued, atol=1e-7)
    assert not torch.equal(trained.model.linear.weight, model.linear.weight)  # untouched


def test_the_projector_starts_on_an_embedding_and_has_t_sne():
    ws = from_project(examples.load("text_gru"))
    p = project(ws.model, ws.project.graph, ws.x[:60], ws.labels[:60], method="tsne")
    assert p.name == "Embedding" and p.method == "tsne" and p.points.shape == (60, 2)
    assert np.isfinite(p.points).all() and -1 <= p.silhouette <= 1


def test_the_main_window_feeds_the_try_it_box_and_each_run_to_the_insight_tab(qtbot, run):
    from netbuilder.ui.mainwindow import MainWindow

    w = MainWindow(restore_layout=False)
    qtbot.addWidget(w)
    w.load_example("digits_cnn")
    insight = w.insight
    with qtbot.waitSignal(insight.projector.projected, timeout=60000):
        with qtbot.waitSignal(w.results_panel.evaluated, timeout=60000):
            w.results_panel.show_run(run)  # what a finished run does
    assert insight.workspace.trained and "trained weights" in insight.projector.note.text()
    try_it = w.results_panel.try_it
    try_it.load_sample()  # the try-it box now shows test sample 0
    insight.source.setCurrentText("Try-it box")
    qtbot.mouseClick(insight.start_btn, Qt.MouseButton.LeftButton)
    steps = insight.steps
    assert steps.trace is not None, insight.status.text()
    expected = insight.workspace.model_input(try_it.current_input())
    assert torch.allclose(steps.trace.x.detach(), expected)
    predicted = int(np.argmax(try_it.probabilities))
    assert int(steps.sample[1]) == predicted  # no target typed: the predicted class
    w.training.shutdown()
