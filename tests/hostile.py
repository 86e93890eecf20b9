"""A corpus of hostile project files for generic nodes (tests/test_security_*.py).

Each entry is a project that names something a generic node must never run: helpers that
execute source text, library loaders, code caches, shell helpers in testing utilities,
functions that write to a path, attribute walks into os / sys / builtins / subprocess /
importlib, private names, dunder tricks and callables hidden in JSON templates. Every
payload that ran would create the file MARKER, so its absence proves nothing ran.
GIANT lists files whose parameters or activations cannot fit in memory.
"""
from __future__ import annotations

import json

MARKER = "PWNED"  # created inside the test's folder by any payload that runs


def project(node: dict, inputs=({"shape": [4]},), name="hostile") -> dict:
    nodes = [{"id": f"x{i}", "type": "Input", "name": f"x{i}", "params": p}
             for i, p in enumerate(inputs)]
    nodes += [dict(node, id="evil", name="evil"),
              {"id": "out", "type": "Output", "name": "out", "params": {}}]
    generic = node["type"] in ("Module", "Function")
    edges = [{"src": f"x{i}", "dst": "evil", "dst_port": f"in{i + 1}" if generic else "in"}
             for i in range(len(inputs)) if node["type"] != "Parameter"]
    edges.append({"src": "evil", "dst": "out"})
    return {"format": "netbuilder-project", "version": 1, "name": name,
            "graph": {"nodes": nodes, "edges": edges},
            "dataset": {"name": "xor", "options": {}}}


def function(name: str, *args, **kwargs) -> dict:
    return {"type": "Function", "params": {
        "function": name, "args": json.dumps([{"$in": 0}, *args] if args != (None,) else []),
        "call_kwargs": json.dumps(kwargs)}}


def module(target: str, kwargs=None, **params) -> dict:
    return {"type": "Module", "params": {"target": target, "kwargs": json.dumps(kwargs or {}),
                                         **params}}


def corpus(marker: str) -> dict[str, tuple[dict, str]]:
    """name -> (project data, a phrase the refusal must contain). `marker` is the path a
    payload would create."""
    touch = f"touch {marker}"
    write = f"open({marker!r}, 'w').write('x')"
    refused = "is refused"
    items = {
        # code-executing helpers and code caches inside torch
        "testing_shell": (function("torch.testing._internal.common_utils:shell", [touch]),
                          "private part"),
        "jit_compilation_unit": (module("torch.jit:CompilationUnit", {"lang": write}),
                                 refused),
        "cpp_load_inline": (function("torch.utils.cpp_extension:load_inline", "x", write),
                            refused),
        "fx_code_cache": (function("torch.fx.graph_module:_forward_from_src", write, {}),
                          "private part"),
        "fx_exec_with_source": (function("torch.fx.graph_module:_exec_with_source", write),
                                "private part"),
        "package_importer": (module("torch.package:PackageImporter", {"file_or_buffer":
                                                                      marker}), refused),
        "jit_script_module": (module("torch.jit:ScriptModule"), refused),
        "fx_graph_module": (module("torch.fx:GraphModule", {"root": {}, "graph": write}),
                            refused),
        "compile": (function("torch:compile"), refused),
        # library loaders
        "ops_load_library": (function("torch:ops.load_library", None), refused),
        "ctypes_cdll": (module("ctypes:CDLL", {"name": marker}), "part of Python itself"),
        "torch_ctypes": (function("torch:ctypes.CDLL", None), refused),
        # save / export / download functions that write to a path
        "torch_save": (function("torch:save", marker), refused),
        "serialization_save": (function("torch.serialization:save", marker), refused),
        "onnx_export": (function("torch.onnx:export", marker), refused),
        "torchvision_write_png": (function("torchvision.io:write_png", marker), refused),
        "torchvision_save_image": (function("torchvision.utils:save_image", marker), refused),
        "hub_download": (function("torch.hub:download_url_to_file", "http://x", marker),
                         refused),
        "hub_load": (module("torch.hub:load", {"repo_or_dir": marker, "model": "x"}),
                     refused),
        "dataset_download": (module("torchvision.datasets:MNIST", {"root": marker,
                                                                   "download": True}),
                             refused),
        "pretrained_weights": (module("torchvision.models:resnet18", {"weights": "DEFAULT"}),
                               "names weights"),
        "backbone_weights_default": (
            module("torchvision.models.detection:fasterrcnn_resnet50_fpn"), "a download"),
        "layer_count_bomb": (module("torch.nn:LSTM", {"input_size": 4, "hidden_size": 4,
                                                      "num_layers": 10**9}), "sub-layers"),
        "kwarg_is_a_path": (module("torch.nn:Upsample", {"mode": marker}),
                            "looks like a file"),
        # attribute walks out of the package
        "walk_os_system": (function("torch:os.system", None), refused),
        "walk_sys_modules": (function("torch:sys.modules.get", "os"), refused),
        "walk_builtins_exec": (function("torch.nn.functional:builtins.exec", write),
                               refused),
        "walk_subprocess": (function("torch.utils.data:subprocess.run", [touch]), refused),
        "walk_importlib": (function("torch:importlib.import_module", "os"), refused),
        "stdlib_os_system": (function("os:system", touch), "part of Python itself"),
        "stdlib_builtins_eval": (function("builtins:eval", write), "part of Python itself"),
        "stdlib_subprocess": (module("subprocess:Popen", {"args": touch, "shell": True}),
                              "part of Python itself"),
        "stdlib_importlib": (function("importlib:import_module", "os"),
                             "part of Python itself"),
        "operator_attrgetter": (function("operator:attrgetter", "system"),
                                "not an arithmetic operator"),
        "operator_methodcaller": (function("operator:methodcaller", "system"),
                                  "not an arithmetic operator"),
        # private names and dunder tricks
        "private_c_api": (function("torch:_C._jit_pass_inline", None), "private part"),
        "private_dynamo": (function("torch._dynamo:optimize"), "private part"),
        "dunder_builtins": (function("torch:__builtins__.exec", write), "private part"),
        "dunder_subclasses": (function("torch:Tensor.__class__.__subclasses__", None),
                              "private part"),
        "dunder_reduce": (function("torch:Tensor.__reduce_ex__", 2), "private part"),
        "dunder_module_path": (module("torch.nn:Identity", path="__class__.__init__"),
                               "private attributes"),
        "tensor_apply_callable": (function("torch:Tensor.apply_", "print"), refused),
        "tensor_register_hook": (function("torch:Tensor.register_hook", "print"), refused),
        "module_hook": (function("torch.nn:Module.register_forward_hook", "x"), refused),
        # callables hidden in JSON templates
        "template_dtype_load": (function("torch:add", {"$dtype": "load"}), "not a torch dtype"),
        "template_dtype_dunder": (function("torch:add", {"$dtype": "__builtins__"}),
                                  "not a torch dtype"),
        "template_unknown_key": (function("torch:add", {"$eval": write}),
                                 "not one netbuilder knows"),
        "template_in_not_a_number": (function("torch:add", {"$in": "os"}),
                                     "input number"),
        "template_in_kwargs": (module("torch.nn:Identity", {"x": {"$dtype": "save"}}),
                               "not a torch dtype"),
    }
    return {k: (project(node), why) for k, (node, why) in items.items()}


# name -> (project data, words in the refusal)
GIANT = {
    "linear_1e6_by_1e6": (project({"type": "Linear", "params": {"out_features": 1_000_000}},
                                  inputs=({"shape": [1_000_000]},)), "TiB for its parameters"),
    "parameter_1e12": (project({"type": "Parameter", "params": {
        "shape": [1, 1_000_000, 1_000_000]}}), "TiB for its parameters"),
    "module_linear_kwargs": (project(module("torch.nn:Linear", {
        "in_features": 4, "out_features": 1_000_000_000_000})), "TiB for its parameters"),
    "embedding_1e12": (project({"type": "Embedding", "params": {
        "num_embeddings": 1_000_000, "embedding_dim": 1_000_000}},
        inputs=({"shape": [4], "dtype": "int64"},)), "TiB for its parameters"),
    "repeat_activation": (project(function("torch:Tensor.repeat", 1, 1_000_000, 1_000_000),
                                  inputs=({"shape": [1, 1]},)), "for the activations"),
}
