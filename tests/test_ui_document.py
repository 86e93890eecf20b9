"""One document per window that owns its state: a new document leaves nothing of the old
one on screen; the Problems panel, the status bar, the Train button and `netbuilder
validate` tell one truth; progress and wire gestures say what really happened."""
import subprocess
import sys

import pytest
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QMessageBox

from netbuilder import examples
from netbuilder.core.project import save_project
from netbuilder.ui.dialogs import help as help_dialogs
from netbuilder.ui.document import commands
from netbuilder.ui.mainwindow import MainWindow

WAIT = 60_000  # ms: the machine may be busy; every wait is for a state, not a time


@pytest.fixture
def window(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("NETBUILDER_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    w = MainWindow()
    w.questions = []

    def ask(parent, title, *a, **k):
        w.questions.append(title)
        return QMessageBox.Yes if title == "Stop training?" else QMessageBox.Discard
    w.ask = ask
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    yield w
    w.training.shutdown()


def open_example(w, name, **training):
    assert w.load_example(name)
    if training:  # as a saved project would have them (not an undo entry)
        w.doc.project.training = w.doc.project.training.model_copy(update=training)
    w.doc.refresh()


def train_and_wait(qtbot, w):
    ui = w.training
    w.training.panel.act_start.trigger()
    qtbot.waitUntil(lambda: ui.bridge.state != "idle", timeout=WAIT)
    qtbot.waitUntil(lambda: ui.bridge.state == "idle", timeout=WAIT)
    return ui.bridge.result


def spirals_32_wide():
    p = examples.load("spirals_mlp")
    p.graph.set_params("n6", {"out_features": 32})  # 2 classes, 32 scores
    return p


# ---- nothing of the previous document stays ----------------------------------------------

def test_training_a_then_opening_b_shows_only_b(qtbot, window):
    w, ui, panel = window, window.training, window.training.panel
    open_example(w, "spirals_mlp", epochs=2, batch_size=200)
    result = train_and_wait(qtbot, w)
    assert result.status == "completed"
    qtbot.waitUntil(lambda: w.results_panel.evaluation is not None, timeout=WAIT)
    # A's run is on screen: counted progress, its results, its try-it box, its history
    assert panel.epoch_bar.format() == "epoch 2 / 2" and panel.epoch_bar.value() == 2
    assert panel.rate_label.text().startswith("Finished 2 epochs")
    assert w.results_panel.history.list.count() == 1 and w.results_panel.try_it.ev is not None
    assert [r.status for r in w.doc.runs] == ["completed"]
    assert not ui.views.showing_placeholder
    qtbot.waitUntil(lambda: w.data_panel.preview_title.text() == "Preview — spirals",
                    timeout=WAIT)

    open_example(w, "digits_mlp")
    b = w.doc.project
    assert b.dataset.name == "digits"
    # Training: B's epochs, nothing running, no old status or error
    assert panel.epoch_bar.format() == f"epoch 0 / {b.training.epochs}"
    assert panel.epoch_bar.value() == 0 and panel.batch_bar.format() == "batch —"
    assert panel.rate_label.text() == "Not training"
    assert panel.error.isHidden() and panel.note.isHidden()
    assert panel.fields["epochs"].value() == b.training.epochs
    # Live: the placeholder again, no curve of A's run
    assert ui.views.showing_placeholder
    assert ui.views.curves.s_val.n == 0
    # Data: B's dataset previewed
    qtbot.waitUntil(lambda: w.data_panel.preview_title.text() == "Preview — digits",
                    timeout=WAIT)
    assert w.data_panel.preview.kind == "images"
    assert w.data_panel.combo.currentData() == "digits"
    # Results: empty, nothing of A to try
    rp = w.results_panel
    assert rp.title.text() == rp.EMPTY and rp.evaluation is None and rp.checkpoint is None
    assert rp.history.list.count() == 0 and rp.metrics_table.rowCount() == 0
    assert rp.try_it.ev is None and rp.try_it.inputs.currentWidget() is rp.try_it.empty
    assert rp.try_it.answer.text() == ""
    assert w.doc.runs == [] and w.doc.model.selection == ()
    # and File > New: nothing of digits either
    w.new_project()
    assert w.doc.project.dataset is None
    assert w.data_panel.preview_title.text() == "Preview"
    assert w.data_panel.preview.kind == "message"


def test_opening_another_document_while_training_asks_and_stops_the_run(qtbot, window):
    w, ui = window, window.training
    open_example(w, "spirals_mlp", epochs=5000)
    ui.panel.act_start.trigger()
    qtbot.waitUntil(lambda: ui.bridge.state == "running", timeout=WAIT)
    assert w.doc.locked
    assert w.load_example("digits_mlp")
    assert w.questions == ["Stop training?"]
    assert ui.bridge.state == "idle" and not w.doc.locked and w.doc.run_state == "idle"
    assert w.doc.project.dataset.name == "digits"
    assert ui.panel.rate_label.text() == "Not training"  # not "Stopped after …" of A
    assert ui.views.showing_placeholder and w.doc.runs == []


def test_declining_to_stop_the_run_keeps_the_document(qtbot, window):
    w, ui = window, window.training
    open_example(w, "spirals_mlp", epochs=5000)
    ui.panel.act_start.trigger()
    qtbot.waitUntil(lambda: ui.bridge.state == "running", timeout=WAIT)
    w.ask = lambda *a, **k: QMessageBox.No
    assert not w.load_example("digits_mlp")
    assert w.doc.project.dataset.name == "spirals" and ui.bridge.active


# ---- one truth about "can this train" ------------------------------------------------------

def test_problems_panel_and_status_bar_say_what_validate_says(qtbot, window, tmp_path):
    path = tmp_path / "spirals32.json"
    save_project(spirals_32_wide(), path)
    cli = subprocess.run([sys.executable, "-m", "netbuilder", "validate", str(path)],
                         capture_output=True, text=True)
    assert cli.returncode == 1
    line = next(s for s in cli.stdout.splitlines() if s.startswith("error: "))
    message = line[len("error: "):].split(" [node ")[0]
    assert "2 classes" in message and "out_features to 2" in message

    w = window
    assert w.open_path(path)
    w.doc.refresh()
    shown = [w.problems_panel.tree.topLevelItem(i).text(0)
             for i in range(w.problems_panel.tree.topLevelItemCount())]
    assert message in shown
    assert "✔ valid" not in w.status_valid.text() and "1 error" in w.status_valid.text()
    assert w.status_valid.toolTip() == message
    # the fix named in the message: the problem and the status go with it
    w.doc.undo_stack.push(commands.SetParams(w.doc.graph, "n6", {"out_features": 2}))
    w.doc.refresh()
    assert "✔ valid" in w.status_valid.text() and w.doc.first_error is None


def test_a_refused_train_keeps_the_problems_in_view_with_the_first_error(qtbot, window):
    w, ui, panel = window, window.training, window.training.panel
    w.replace_document(spirals_32_wide())
    w.doc.refresh()
    w.bottom.setCurrentWidget(w.data_panel)  # looking elsewhere, the Live dock on top
    w.live_dock.show()
    w.live_dock.raise_()
    first = w.doc.first_error
    panel.act_start.trigger()
    assert ui.bridge.state == "idle" and not ui.bridge.active  # never started
    qtbot.waitUntil(lambda: w.problems_panel.isVisible(), timeout=WAIT)
    assert w.bottom.currentWidget() is w.problems_panel
    assert w.problems_panel.selected_message() == first.message
    assert panel.rate_label.text() == f"Cannot train: {first.message}"
    assert w.statusBar().currentMessage() == f"Cannot train: {first.message}"
    assert w.canvas.selected_node_ids() == [first.node_id]
    assert ui.views.showing_placeholder  # the Live views were not cleared for a run


# ---- small truths ---------------------------------------------------------------------------

def test_progress_counts_completed_epochs_and_follows_the_project(qtbot, window):
    w, panel = window, window.training.panel
    open_example(w, "spirals_mlp", epochs=10)
    assert panel.epoch_bar.format() == "epoch 0 / 10"
    panel.fields["epochs"].setValue(3)
    panel.fields["epochs"].editingFinished.emit()
    assert panel.epoch_bar.format() == "epoch 0 / 3"  # the project's epochs, before a run
    result = train_and_wait(qtbot, w)
    assert result.status == "completed" and result.epochs_done == 3
    assert panel.epoch_bar.format() == "epoch 3 / 3"
    assert panel.batch_bar.value() == panel.batch_bar.maximum()
    assert panel.batch_bar.format() == f"batch {panel.batch_bar.maximum()} / " \
                                       f"{panel.batch_bar.maximum()}"
    assert panel.rate_label.text().startswith("Finished 3 epochs")


def test_a_paused_run_says_paused_and_shows_no_eta(qtbot, window):
    w, ui, panel = window, window.training, window.training.panel
    open_example(w, "spirals_mlp", epochs=5000)
    panel.act_start.trigger()
    qtbot.waitUntil(lambda: "ETA" in panel.rate_label.text(), timeout=WAIT)
    panel.act_pause.trigger()
    qtbot.waitUntil(lambda: ui.bridge.state == "paused", timeout=WAIT)
    # the pause's answer comes after every batch sent before it: none brings the ETA back
    ui.bridge.drain()
    panel.consume([])  # a pending progress flush, as the next timer tick would do
    text = panel.rate_label.text()
    assert text.startswith("Paused") and "ETA" not in text
    assert not w.doc.locked  # paused: the graph may be edited
    panel.act_stop.trigger()
    qtbot.waitUntil(lambda: ui.bridge.state == "idle", timeout=WAIT)


def _port(w, node_id, name, output):
    item = w.canvas.nodes[node_id]
    return next(p for p in item.childItems()
                if getattr(p, "name", None) == name and getattr(p, "output", None) == output)


def drop_wire(w, start, target):
    w.canvas.begin_wire(start, start.scenePos())
    return w.canvas.end_wire(target.scenePos())


def test_a_wire_dropped_where_it_cannot_go_says_why(qtbot, window):
    w = window
    open_example(w, "digits_mlp")
    edges, entries = list(w.doc.graph.edges), w.doc.undo_stack.count()
    out1, out2 = _port(w, "n2", "out", True), _port(w, "n3", "out", True)
    in2, in3 = _port(w, "n2", "in", False), _port(w, "n3", "in", False)
    name2, name3 = w.doc.graph.node("n2").name, w.doc.graph.node("n3").name
    cases = [(out1, out2, f"Cannot connect output 'out' of {name2} to output 'out' of "
                          f"{name3}: a wire goes from an output to an input"),
             (in2, in3, f"Cannot connect input 'in' of {name2} to input 'in' of {name3}: "
                        f"a wire goes from an output to an input"),
             (out1, in2, f"Cannot wire {name2} to itself: connect it to another layer")]
    for start, target, reason in cases:
        assert drop_wire(w, start, target) == reason
        assert w.statusBar().currentMessage() == reason
    assert w.doc.graph.edges == edges and w.doc.undo_stack.count() == entries
    src = w.doc.graph.edge_into("n3", "in").src
    already = drop_wire(w, _port(w, src, "out", True), in3)
    assert already == f"{w.doc.graph.node(src).name} is already wired into {name3}"


def test_replacing_an_input_wire_is_said_and_one_undo_step(qtbot, window):
    w = window
    open_example(w, "digits_mlp")
    g = w.doc.graph
    inp = g.nodes_of_type("Input")[0]
    old = g.edge_into("n3", "in")
    assert old is not None and old.src != inp.id
    entries = w.doc.undo_stack.count()
    said = drop_wire(w, _port(w, inp.id, "out", True), _port(w, "n3", "in", False))
    assert said == (f"Replaced the wire from {g.node(old.src).name} into input 'in' of "
                    f"{g.node('n3').name} (Ctrl+Z brings it back)")
    assert w.statusBar().currentMessage() == said
    assert g.edge_into("n3", "in").src == inp.id
    assert w.doc.undo_stack.count() == entries + 1
    w.doc.undo_stack.undo()
    assert g.edge_into("n3", "in") == old and old in g.edges


def test_menus_order_and_help_lists_the_real_shortcuts(qtbot, window):
    w = window
    assert [a.text().replace("&", "") for a in w.menuBar().actions()] == \
        ["File", "Edit", "View", "Train", "Help"]
    help_menu = w.menuBar().actions()[-1].menu()
    assert [a.text().replace("&", "") for a in help_menu.actions() if a.text()][:2] == \
        ["Quick Start", "Keyboard Shortcuts"]
    rows = {(m, a): k for m, a, k in help_dialogs.shortcut_rows(w.menuBar())}
    assert rows[("File", "Save")] == "Ctrl+S"
    assert rows[("Edit", "Undo")] == "Ctrl+Z"
    assert rows[("Train", "Train")].startswith("Ctrl+Return")
    assert rows[("File", "Export…")] == "Ctrl+E"
    # change a shortcut: the list follows the action
    w.training.panel.act_pause.setShortcut("Ctrl+Shift+P")
    rows = {(m, a): k for m, a, k in help_dialogs.shortcut_rows(w.menuBar())}
    assert rows[("Train", "Pause")] == "Ctrl+Shift+P"
    w.show_shortcuts()
    assert "Ctrl+Shift+P" in w.shortcuts_box.text() and "Ctrl+E" in w.shortcuts_box.text()
    w.shortcuts_box.close()
    quick = next(a for a in help_menu.actions() if a.text() == "&Quick Start")
    help_keys = QKeySequence.keyBindings(QKeySequence.StandardKey.HelpContents)
    assert [k.toString() for k in quick.shortcuts()] == [k.toString() for k in help_keys]
    quick.trigger()
    box = next(b for b in w.findChildren(QMessageBox) if b.windowTitle() == "Quick start")
    assert "Wire them" in box.text() and "Train" in box.text()
    box.close()


def test_a_user_dataset_is_read_off_the_ui_thread_then_checked(qtbot, tmp_path):
    """A CSV's classes are known only by reading it: the document reads it in a thread and
    then shows the same problem `netbuilder validate` gives (3 classes, 2 scores)."""
    from netbuilder.api import validate
    from netbuilder.core.project import DatasetChoice
    from netbuilder.ui.document.document import Document

    f = tmp_path / "three.csv"
    f.write_text("a,b,label\n" + "".join(f"{i % 7},{i % 5},{'xyz'[i % 3]}\n"
                                         for i in range(30)))
    p = examples.load("spirals_mlp")
    p.dataset = DatasetChoice(name="csv", options={"path": str(f)})
    doc = Document(p)
    doc.refresh()  # returns at once: nothing read on the UI thread yet
    qtbot.waitUntil(lambda: not doc.analysis_pending() and doc.first_error is not None,
                    timeout=WAIT)
    want = [q.message for q in validate(p) if q.severity == "error"]
    assert doc.first_error.message == want[0] and "3 classes" in want[0]

    bad = tmp_path / "one.csv"
    bad.write_text("a,label\n1,x\n2,x\n")
    doc.project.dataset = DatasetChoice(name="csv", options={"path": str(bad)})
    qtbot.waitUntil(lambda: not doc.analysis_pending() and doc.first_error is not None
                    and "single value" in doc.first_error.message, timeout=WAIT)
    assert doc.first_error.message.startswith("dataset 'csv': ")
    assert doc.first_error.message == next(q.message for q in validate(doc.project)
                                           if q.severity == "error")
