"""One sample through the network: forward, loss, backward, one optimizer step (no Qt).

    stepper = Stepper(project)                 # fresh seeded weights, or model=/weights=
    trace = stepper.trace(x, target)            # every node's output and gradient, the loss
    deltas = stepper.step()                     # one optimizer step: ΔW per state_dict key

The network runs in eval mode (Dropout off, BatchNorm with its running statistics), so one
sample gives the numbers the trained model gives. The loss and the target handling are the
Trainer's (`training.config`), so the loss shown is the one training minimises. The step
is the real optimizer's (`make_optimizer` from the project's settings, with the saved state
of a checkpoint when the weights come from one): for plain SGD on a fresh optimizer it is
ΔW = −lr·∇W; momentum, Adam and the rest give their own update. The Stepper owns a copy of
the model, so stepping never changes a trained model shown elsewhere.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from ..core.compiler import CompileError, compile_graph
from ..core.project import LOSSES, Project
from ..training.config import Plan, TrainingConfigError, adapt_target, check, make_loss, \
    make_optimizer
from .capture import Record, capture, clone_model, own_parameters
from .names import InsightError

CLASS_LOSSES = ("cross_entropy", "nll", "hinge")  # targets are class ids


@dataclass
class Trace:
    x: torch.Tensor  # the input batch of one sample, as the Input node gets it (its .grad
    # is the input gradient when it is float)
    target: torch.Tensor  # as the loss takes it (one-hot when the plan says so)
    records: list[Record]
    output: torch.Tensor  # the model's output (detached)
    loss: float
    params: dict  # state_dict key -> value (detached copy, before any step)
    grads: dict  # parameter key -> gradient of the loss

    def output_of(self, record: Record) -> np.ndarray:
        return _array(record.value)

    def grad_of(self, record: Record) -> np.ndarray | None:
        """d loss / d (this node's output), or None (integer outputs, or no path to the
        loss)."""
        return _grad(record.value)

    def port_outputs(self, record: Record) -> dict:
        """port -> this node's output there (a block with several outputs has one each)."""
        return {port: _array(v) for port, v in record.port_values().items()}

    def port_grads(self, record: Record) -> dict:
        """port -> d loss / d (the output at that port), or None there."""
        return {port: _grad(v) for port, v in record.port_values().items()}

    def layer_grads(self, model, record: Record) -> dict:
        """The gradients of the weights this node's layer owns, by state_dict key."""
        return {k: self.grads.get(k) for k in own_parameters(model, record)}


def _grad(v) -> np.ndarray | None:
    if isinstance(v, (tuple, list)):
        v = v[0]
    g = v.grad if isinstance(v, torch.Tensor) and v.requires_grad else None
    return None if g is None else _array(g)


def _array(t) -> np.ndarray:
    if isinstance(t, (tuple, list)):
        t = t[0]
    return t.detach()[0].cpu().numpy() if t.dim() > 0 else t.detach().cpu().numpy()


@dataclass
class StepResult:
    deltas: dict  # parameter key -> ΔW (after - before)
    rule: str  # how the update was made, for a person
    loss_after: float | None = None  # the same sample's loss with the new weights
    extra: dict = field(default_factory=dict)


def saved_optimizer(path):
    """The optimizer state of a checkpoint folder, or None (a bare .safetensors file)."""
    from ..training import checkpoint as ckpt

    try:
        return ckpt.load(path).optimizer
    except ckpt.CheckpointError:
        return None


class Stepper:
    def __init__(self, project: Project, model=None, weights=None, loss: str | None = None,
                 data=None, plan: Plan | None = None, info=None):
        """`data` (PreparedData) gives the Trainer's plan and test samples; a trained run's
        `plan` and `info` (an Evaluation's) do the same without loading the data again."""
        settings = project.training
        if loss is not None:
            if loss not in LOSSES:
                raise InsightError(f"--loss {loss!r}: choose one of {', '.join(LOSSES)}")
            settings = settings.model_copy(update={"loss": loss})
        self.project, self.settings, self.data = project, settings, data
        self._info = data.info if data is not None else info
        graph = project.graph
        if len(graph.nodes_of_type("Input")) != 1 or len(graph.nodes_of_type("Output")) != 1:
            raise InsightError("the step-through needs a graph with exactly one Input and "
                               "one Output node")
        if model is None:
            try:
                model = compile_graph(graph, seed=settings.seed)
            except CompileError as e:
                raise InsightError(str(e)) from None
        else:
            model = clone_model(model)
        self.model = model
        self.optimizer_state = None
        if weights is not None:
            self._load(weights)
        self.model.eval()
        self.plan = plan if plan is not None and loss is None else self._plan()
        self.loss_fn = make_loss(settings, self.plan)
        self.optimizer = make_optimizer(settings, self.model.parameters())
        self.use_optimizer_state(self.optimizer_state)
        self.last: Trace | None = None

    def use_optimizer_state(self, state) -> bool:
        """Continue from a run's optimizer (momentum, Adam's moments): the step is then the
        one training would take next. False (a fresh optimizer) when it does not fit."""
        if state is None:
            return False
        try:
            self.optimizer.load_state_dict(state)
        except (ValueError, KeyError, TypeError, IndexError):
            return False  # another optimizer's state: step from a fresh one
        return True

    # ---- setup -------------------------------------------------------------------------

    def _load(self, weights) -> None:
        from ..training import checkpoint as ckpt

        try:
            state = ckpt.load_weights(weights)
        except ckpt.CheckpointError as e:
            raise InsightError(str(e)) from None
        try:
            self.model.load_state_dict(state)
        except RuntimeError as e:
            lines = str(e).splitlines()
            raise InsightError(f"{weights}: the weights do not fit this graph "
                               f"({' '.join(lines[1:3]).strip()})") from None
        self.optimizer_state = saved_optimizer(weights)

    @property
    def info(self):
        return self._info

    def _plan(self) -> Plan:
        """The Trainer's plan when the project's dataset fits; else the targets as given."""
        if self.data is not None:
            try:
                return check(self.project.graph, self.settings, self.data.info,
                             self.project.dataset.name, device="cpu")
            except TrainingConfigError:
                pass
        width = int(np.prod(self.output_shape))
        return Plan(self.settings.loss, width, False, None, "cpu", False)

    @property
    def input_node(self):
        return self.project.graph.nodes_of_type("Input")[0]

    @property
    def output_shape(self) -> tuple:
        from ..training.compat import output_shape

        shape = output_shape(self.project.graph)
        if shape is None:
            raise InsightError("the graph's output shape is unknown; fix its errors first")
        return tuple(shape[1:])

    # ---- samples -----------------------------------------------------------------------

    def input_from_values(self, values) -> torch.Tensor:
        """A batch of one from the Input node's values, flat (as typed) or shaped."""
        node = self.input_node
        shape = tuple(node.params.get("shape", []))
        dtype = torch.int64 if node.params.get("dtype") == "int64" else torch.float32
        flat = np.asarray(values, dtype=np.float64).reshape(-1)
        need = int(np.prod(shape)) if shape else 1
        if flat.size != need:
            raise InsightError(f"Input {node.name!r} takes {need} value(s) (shape "
                               f"{list(shape)}), not {flat.size}")
        if not np.isfinite(flat).all():
            raise InsightError("every input value must be a finite number")
        if dtype == torch.int64 and (flat != np.round(flat)).any():
            raise InsightError(f"Input {node.name!r} takes whole-number token ids")
        return torch.tensor(flat.reshape(1, *shape), dtype=dtype)

    def target_from_values(self, values) -> torch.Tensor:
        """One value: a class id when the data or the loss has classes (or, without a
        dataset, when the output has several values); else the output's values."""
        flat = np.asarray(values, dtype=np.float64).reshape(-1)
        info = self.info
        need = int(np.prod(self.output_shape))
        classes = (info.is_classification if info is not None
                   else self.settings.loss in CLASS_LOSSES or need > 1)
        if classes and flat.size == 1:
            k = flat[0]
            n = info.num_classes if info is not None else self.plan.output_width
            if k != round(k) or not 0 <= k < max(n, 1):
                raise InsightError(f"target {k:g}: a class id between 0 and {n - 1}")
            return torch.tensor([int(k)])
        if flat.size != need:
            raise InsightError(f"the target needs {need} value(s) (the output's shape "
                               f"{list(self.output_shape)})" + (" or one class id" if classes
                                                                else "") + f", not {flat.size}")
        return torch.tensor(flat.reshape(1, *self.output_shape), dtype=torch.float32)

    def sample(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Test sample `index` of the project's dataset (normalized as in training)."""
        if self.data is None:
            raise InsightError("the project has no dataset to take a sample from; give "
                               "--input values instead")
        n = len(self.data.test)
        if not 0 <= index < n:
            raise InsightError(f"sample {index}: the test split has {n} samples "
                               f"(0 to {n - 1})")
        return self.data.batch(self.data.test, slice(index, index + 1))

    # ---- the pass ----------------------------------------------------------------------

    def _loss_target(self, target: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        if target.dtype == torch.int64 and self.plan.one_hot:
            return adapt_target(target, self.plan, out.dtype)
        if target.dtype == torch.int64 and self.settings.loss not in CLASS_LOSSES:
            # a class id for a loss on values (no dataset plan): one-hot over the output
            return torch.nn.functional.one_hot(target, out.shape[-1]).to(out.dtype)
        return target

    def trace(self, x: torch.Tensor, target: torch.Tensor) -> Trace:
        """Forward with every node's output kept, the loss, and backward."""
        model = self.model
        self.optimizer.zero_grad(set_to_none=True)
        x = x.detach().clone()
        if x.is_floating_point():
            x.requires_grad_(True)
        out, records = capture(model, self.project.graph, x, retain=True)
        if isinstance(out, tuple):
            out = out[0]
        y = self._loss_target(target, out)
        try:
            loss = self.loss_fn(out, y)
        except (RuntimeError, ValueError, IndexError) as e:
            raise InsightError(f"the {self.settings.loss} loss cannot compare the output "
                               f"{list(out.shape[1:])} with this target ({e})") from None
        loss.backward()
        params = {k: v.detach().clone() for k, v in model.state_dict().items()}
        grads = {k: p.grad.detach().clone() for k, p in model.named_parameters()
                 if p.grad is not None}
        self.last = Trace(x, y.detach(), records, out.detach(), loss.item(), params, grads)
        return self.last

    def step(self) -> StepResult:
        """One optimizer step on the last trace's gradients; returns ΔW per parameter. The
        Stepper's model keeps the new weights (trace again to see the new loss)."""
        if self.last is None:
            raise InsightError("trace a sample first: the step uses its gradients")
        model = self.model
        before = {k: p.detach().clone() for k, p in model.named_parameters()}
        self.optimizer.step()
        deltas = {k: (p.detach() - before[k]) for k, p in model.named_parameters()}
        s = self.settings
        if s.optimizer == "sgd":
            rule = f"SGD, lr {s.lr:g}: ΔW = −lr·∇W"
            if s.weight_decay:
                rule += f" − lr·{s.weight_decay:g}·W (weight decay)"
            if s.momentum:
                rule += (f"; with momentum {s.momentum:g} the later steps add "
                         f"{s.momentum:g}× the previous update")
        else:
            rule = f"{s.optimizer}, lr {s.lr:g}: the optimizer's own update"
        x, y = self.last.x.detach(), self.last.target
        with torch.no_grad():
            out = model(x)
            out = out[0] if isinstance(out, tuple) else out
            after = float(self.loss_fn(out, y))
        return StepResult(deltas, rule, after)
