"""How the shipped example projects are made, with the public API.

`python -m netbuilder.examples.build` rewrites the JSON files beside this module; a test
checks that they match, so the code and the files never drift apart.
"""
from __future__ import annotations

from pathlib import Path

from ..core.block_library import add_classic
from ..core.graph import Graph
from ..core.layout import apply_layout
from ..core.project import DatasetChoice, Project, TrainingSettings, save_project


def _project(name, description, graph, dataset, **training) -> Project:
    apply_layout(graph)
    return Project(graph=graph, name=name, description=description,
                   training=TrainingSettings(**training),
                   dataset=DatasetChoice(**dataset))


def spirals_mlp() -> Project:
    g = Graph()
    g.chain(g.add_node("Input", "points", {"shape": [2]}),
            ("Linear", {"out_features": 32}), "Tanh",
            ("Linear", {"out_features": 32}), "Tanh",
            ("Linear", {"out_features": 2}), "Output")
    return _project("Spirals MLP", "Two interleaved spirals, separated by a 2-32-32-2 tanh "
                    "MLP (the TensorFlow Playground classic).", g,
                    {"name": "spirals", "options": {"samples": 1000, "noise": 0.1}},
                    loss="cross_entropy", lr=0.01, epochs=60, batch_size=32)


def digits_mlp() -> Project:
    g = Graph()
    g.chain(g.add_node("Input", "image", {"shape": [1, 8, 8]}), "Flatten",
            ("Linear", {"out_features": 64}), "ReLU",
            ("Linear", {"out_features": 10}), "Output")
    return _project("Digits MLP", "An MLP on scikit-learn's 8x8 handwritten digits.", g,
                    {"name": "digits"}, loss="cross_entropy", lr=0.003, epochs=20)


def digits_cnn() -> Project:
    g = Graph()
    g.chain(g.add_node("Input", "image", {"shape": [1, 8, 8]}),
            ("Conv2d", {"out_channels": 16, "padding": 1, "bias": False}), "BatchNorm2d",
            "ReLU",
            ("Conv2d", {"out_channels": 32, "padding": 1, "bias": False}), "BatchNorm2d",
            "ReLU", ("MaxPool2d", {"kernel_size": 2}), "Flatten",
            ("Dropout", {"p": 0.2}), ("Linear", {"out_features": 10}), "Output")
    return _project("Digits CNN", "A small CNN with BatchNorm on scikit-learn's 8x8 "
                    "handwritten digits.", g, {"name": "digits"},
                    loss="cross_entropy", lr=0.003, epochs=20)


def residual_cnn() -> Project:
    g = Graph()
    stem = g.chain(g.add_node("Input", "image", {"shape": [1, 8, 8]}),
                   ("Conv2d", {"out_channels": 16, "padding": 1, "bias": False}),
                   "BatchNorm2d", "ReLU")
    block = g.chain(("Conv2d", {"out_channels": 16, "padding": 1, "bias": False}),
                    "BatchNorm2d", "ReLU",
                    ("Conv2d", {"out_channels": 16, "padding": 1, "bias": False}),
                    "BatchNorm2d")
    g.connect(stem[-1].id, block[0].id)
    add = g.add_node("Add", "skip add")
    g.connect(block[-1].id, add.id, dst_port="in1")
    g.connect(stem[-1].id, add.id, dst_port="in2")
    g.chain(add, "ReLU", ("AdaptiveAvgPool2d", {"output_size": 1}), "Flatten",
            ("Linear", {"out_features": 10}), "Output")
    return _project("Residual CNN", "A CNN with one residual block: the block's output is "
                    "added to its input (a skip connection).", g, {"name": "digits"},
                    loss="cross_entropy", lr=0.003, epochs=20)


def sine_lstm() -> Project:
    g = Graph()
    g.chain(g.add_node("Input", "series", {"shape": [20, 1]}),
            ("LSTM", {"hidden_size": 32, "output": "last"}),
            ("Linear", {"out_features": 1}), "Output")
    return _project("Sine LSTM forecaster", "Predicts the next value of a noisy sine wave "
                    "from the previous 20 values.", g,
                    {"name": "sine_series", "options": {"window": 20}},
                    loss="mse", lr=0.005, epochs=30)


def textbook_mlp() -> Project:
    g = Graph()
    g.chain(g.add_node("Input", "features", {"shape": [3]}),
            ("Linear", {"out_features": 3}), "Sigmoid",
            ("Linear", {"out_features": 3}), "Sigmoid",
            ("Linear", {"out_features": 2}), "Softmax", "Output")
    return _project("Textbook MLP", "The classic textbook network: 3 inputs, two sigmoid "
                    "hidden layers of 3 units, a 2-unit softmax output.", g,
                    {"name": "blobs", "options": {"features": 3, "classes": 2}},
                    loss="mse", lr=0.05, epochs=50, optimizer="sgd")


def square_regression() -> Project:
    g = Graph()
    g.chain(g.add_node("Input", "x", {"shape": [1]}),
            ("Linear", {"out_features": 10}), "Tanh",
            ("Linear", {"out_features": 1}), "Output")
    return _project("y = x² regression", "A 1-10-1 MLP learns y = x² on [-1, 1].", g,
                    {"name": "square", "options": {"noise": 0.0}},
                    loss="mse", lr=0.01, epochs=200, batch_size=32)


def text_gru() -> Project:
    g = Graph()
    g.chain(g.add_node("Input", "tokens", {"shape": [16], "dtype": "int64"}),
            ("Embedding", {"num_embeddings": 512, "embedding_dim": 32}),
            ("GRU", {"hidden_size": 32, "output": "last"}),
            ("Linear", {"out_features": 2}), "Output")
    return _project("Text classifier", "Embedding -> GRU -> Linear on short review "
                    "sentences shipped with netbuilder (positive / negative).", g,
                    {"name": "tiny_reviews", "options": {"max_len": 16}},
                    loss="cross_entropy", lr=0.005, epochs=30)


def small_resnet() -> Project:
    g = Graph()
    plain = add_classic(g.blocks, "basic", channels=16)
    down = add_classic(g.blocks, "basic", "Basic Block Down", channels=32, stride=2)
    g.chain(g.add_node("Input", "image", {"shape": [1, 8, 8]}),
            g.add_node("Conv2d", "conv1", {"out_channels": 16, "padding": 1, "bias": False}),
            g.add_node("BatchNorm2d", "bn1"), g.add_node("ReLU", "relu"),
            g.add_node("Block", "layer1", {"block": plain, "repeat": 2}),
            g.add_node("Block", "layer2", {"block": down}),
            g.add_node("AdaptiveAvgPool2d", "avgpool"), g.add_node("Flatten", "flatten"),
            g.add_node("Linear", "fc", {"out_features": 10}), "Output")
    return _project("Small ResNet", "A ResNet built from blocks: a stem, two basic blocks "
                    "(layer1, repeat 2) and a strided block with a 1x1 shortcut (layer2).",
                    g, {"name": "digits"}, loss="cross_entropy", lr=0.003, epochs=10)


def small_densenet() -> Project:
    g = Graph()
    dense = add_classic(g.blocks, "dense", layers=3, growth=8)
    trans = add_classic(g.blocks, "transition", channels=24)
    g.chain(g.add_node("Input", "image", {"shape": [1, 8, 8]}),
            g.add_node("Conv2d", "conv0", {"out_channels": 16, "padding": 1, "bias": False}),
            g.add_node("Block", "denseblock1", {"block": dense}),
            g.add_node("Block", "transition1", {"block": trans}),
            g.add_node("Block", "denseblock2", {"block": dense}),
            g.add_node("BatchNorm2d", "norm5"), g.add_node("ReLU", "relu"),
            g.add_node("AdaptiveAvgPool2d", "avgpool"), g.add_node("Flatten", "flatten"),
            g.add_node("Linear", "classifier", {"out_features": 10}), "Output")
    return _project("Small DenseNet", "Two dense blocks (one definition, used twice) of "
                    "three dense layers each, joined by a transition.", g,
                    {"name": "digits"}, loss="cross_entropy", lr=0.003, epochs=10)


def small_transformer() -> Project:
    g = Graph()
    layer = add_classic(g.blocks, "transformer", dim=32, heads=4, mlp=64)
    g.chain(g.add_node("Input", "tokens", {"shape": [16], "dtype": "int64"}),
            g.add_node("Embedding", "embed", {"num_embeddings": 512, "embedding_dim": 32}),
            g.add_node("Block", "encoder", {"block": layer, "repeat": 2}),
            g.add_node("LayerNorm", "norm"),
            g.add_node("Mean", "pool", {"dims": [1]}),
            g.add_node("Linear", "head", {"out_features": 2}), "Output")
    return _project("Small transformer classifier", "Embedding, two pre-norm encoder layers "
                    "(one block, repeat 2), mean pooling over tokens and a linear head, on "
                    "the built-in review sentences.", g,
                    {"name": "tiny_reviews", "options": {"max_len": 16}},
                    loss="cross_entropy", lr=0.002, epochs=20)


def _transfer_cnn(head: str) -> Graph:
    """The CNN of the transfer pair: a conv backbone (two conv-BN-ReLU stages) and a
    linear head over five classes."""
    g = Graph()
    g.chain(g.add_node("Input", "image", {"shape": [1, 8, 8]}),
            g.add_node("Conv2d", "conv1", {"out_channels": 16, "padding": 1, "bias": False}),
            g.add_node("BatchNorm2d", "bn1"), g.add_node("ReLU", "relu1"),
            g.add_node("Conv2d", "conv2", {"out_channels": 32, "padding": 1, "bias": False}),
            g.add_node("BatchNorm2d", "bn2"), g.add_node("ReLU", "relu2"),
            g.add_node("MaxPool2d", "pool", {"kernel_size": 2}),
            g.add_node("Flatten", "flatten"),
            g.add_node("Linear", head, {"out_features": 5}), "Output")
    return g


def digits_base() -> Project:
    return _project("Digits 0-4 (transfer, step 1)", "Step 1 of the transfer example: a "
                    "small CNN learns the digits 0-4. Then fine-tune it on 5-9 with "
                    "digits_transfer --init.", _transfer_cnn("head 0-4"),
                    {"name": "digits", "options": {"digits": "0-4", "augment": True}},
                    loss="cross_entropy", lr=0.003, epochs=20)


def digits_transfer() -> Project:
    g = _transfer_cnn("head")  # another name than step 1's head: it starts fresh
    for node in g.nodes.values():
        if node.type in ("Conv2d", "BatchNorm2d"):
            g.set_tuning(node.id, frozen=True)
    return _project("Digits 5-9 (transfer, step 2)", "Step 2 of the transfer example: the "
                    "backbone learnt on 0-4 (digits_base), frozen, with a new head for the "
                    "digits 5-9. Train it with --init runs/digits_base/checkpoints/last.", g,
                    {"name": "digits", "options": {"digits": "5-9"}},
                    loss="cross_entropy", lr=0.005, epochs=1)


EXAMPLES = {f.__name__: f for f in (spirals_mlp, digits_mlp, digits_cnn, residual_cnn,
                                      sine_lstm, textbook_mlp, square_regression, text_gru,
                                      small_resnet, small_densenet, small_transformer,
                                      digits_base, digits_transfer)}


def main() -> None:
    here = Path(__file__).parent
    for name, make in EXAMPLES.items():
        save_project(make(), here / f"{name}.json")
        print("wrote", here / f"{name}.json")


if __name__ == "__main__":
    main()
