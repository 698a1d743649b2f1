"""The kit's vLLM calls against vLLM's real signatures, read from the PyPI release's source without its CUDA runtime.

vLLM cannot be imported here (its PyPI wheel is the CUDA build), so the wheel of ``vllm_backend.VLLM_VERSION`` is
downloaded once with pip (``pip download --no-deps``, about 340 MB, ~10 s) into the checkout's ``.cache``; the
source files the kit relies on are extracted and parsed with ``ast``, and the wheel is deleted. A recording
stand-in for the ``vllm`` module (named as such: it stands for a library that cannot run here) binds every call
the kit makes to the signature built from that source, so a renamed or removed parameter fails here, and returns
results in the shape of ``vllm/outputs.py`` (``RequestOutput.outputs[i].text``).
"""
from __future__ import annotations

import ast
import inspect
import json
import shutil
import subprocess
import sys
import types
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FILES = ("vllm/entrypoints/llm.py", "vllm/sampling_params.py", "vllm/lora/request.py", "vllm/engine/arg_utils.py",
         "vllm/config/lora.py", "vllm/lora/peft_helper.py", "vllm/inputs/llm.py", "vllm/outputs.py")


@pytest.fixture(scope="session")
def vllm_source() -> Path:
    from gr_colab.vllm_backend import VLLM_VERSION

    src = ROOT / ".cache" / f"vllm-{VLLM_VERSION}-source"
    if all((src / f).is_file() for f in FILES):
        return src
    wheels = ROOT / ".cache" / f"vllm-{VLLM_VERSION}-wheel"
    subprocess.run([sys.executable, "-m", "pip", "download", f"vllm=={VLLM_VERSION}", "--no-deps", "--only-binary",
                    ":all:", "--platform", "manylinux_2_28_x86_64", "--python-version", "3.11", "-d", str(wheels),
                    "--quiet"], check=True)
    wheel = next(wheels.glob(f"vllm-{VLLM_VERSION}-*.whl"))
    with zipfile.ZipFile(wheel) as z:
        for name in FILES:
            z.extract(name, src)
    shutil.rmtree(wheels)
    return src


def _tree(src: Path, rel: str) -> ast.Module:
    return ast.parse((src / rel).read_text(encoding="utf-8"))


def _class(tree: ast.Module, name: str) -> ast.ClassDef:
    return next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == name)


def _method_signature(cls: ast.ClassDef, name: str) -> inspect.Signature:
    """The method's signature as written in the source (defaults replaced by a marker: only names and kinds
    matter for binding), without ``self``."""
    fn = next(n for n in cls.body if isinstance(n, ast.FunctionDef) and n.name == name)
    a = fn.args
    params = []
    positional = a.posonlyargs + a.args
    first_default = len(positional) - len(a.defaults)
    for i, arg in enumerate(positional):
        kind = inspect.Parameter.POSITIONAL_ONLY if arg in a.posonlyargs else inspect.Parameter.POSITIONAL_OR_KEYWORD
        params.append(inspect.Parameter(arg.arg, kind, default=None if i >= first_default else inspect._empty))
    if a.vararg:
        params.append(inspect.Parameter(a.vararg.arg, inspect.Parameter.VAR_POSITIONAL))
    for arg, default in zip(a.kwonlyargs, a.kw_defaults):
        params.append(inspect.Parameter(arg.arg, inspect.Parameter.KEYWORD_ONLY,
                                        default=inspect._empty if default is None else None))
    if a.kwarg:
        params.append(inspect.Parameter(a.kwarg.arg, inspect.Parameter.VAR_KEYWORD))
    return inspect.Signature(params[1:])


def _struct_fields(cls: ast.ClassDef) -> dict:
    """name -> has a default, for a msgspec Struct / dataclass body (annotated attributes, private ones left out)."""
    return {n.target.id: n.value is not None for n in cls.body
            if isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name) and not n.target.id.startswith("_")}


def _struct_signature(cls: ast.ClassDef) -> inspect.Signature:
    fields = _struct_fields(cls)
    return inspect.Signature([inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD,
                                                default=None if has_default else inspect._empty)
                              for n, has_default in sorted(fields.items(), key=lambda kv: kv[1])])


class Contract:
    """What vLLM's source says, read once."""

    def __init__(self, src: Path):
        llm = _class(_tree(src, "vllm/entrypoints/llm.py"), "LLM")
        self.llm_init = _method_signature(llm, "__init__")
        self.llm_generate = _method_signature(llm, "generate")
        self.engine_args = set(_struct_fields(_class(_tree(src, "vllm/engine/arg_utils.py"), "EngineArgs")))
        self.sampling = _struct_signature(_class(_tree(src, "vllm/sampling_params.py"), "SamplingParams"))
        self.lora_request = _struct_signature(_class(_tree(src, "vllm/lora/request.py"), "LoRARequest"))
        self.tokens_prompt = set(_struct_fields(_class(_tree(src, "vllm/inputs/llm.py"), "TokensPrompt")))
        outputs = _tree(src, "vllm/outputs.py")
        self.request_output = set(_method_signature(_class(outputs, "RequestOutput"), "__init__").parameters)
        self.completion_output = set(_struct_fields(_class(outputs, "CompletionOutput")))
        lora_cfg = (src / "vllm/config/lora.py").read_text()
        literal = next(line for line in lora_cfg.splitlines() if line.startswith("MaxLoRARanks"))
        self.max_lora_ranks = tuple(int(x) for x in literal.split("[", 1)[1].rstrip("]").split(","))
        self.peft_helper = (src / "vllm/lora/peft_helper.py").read_text()


@pytest.fixture(scope="session")
def contract(vllm_source) -> Contract:
    return Contract(vllm_source)


def _stand_in_vllm(contract: Contract, calls: dict):
    """A recording stand-in for the ``vllm`` package: every constructor and ``generate`` call is bound to the real
    signature (a wrong name raises TypeError, as vLLM would), and the outputs have RequestOutput's shape."""

    def record(kind, sig, args, kwargs):
        sig.bind(*args, **kwargs)
        calls.setdefault(kind, []).append(kwargs)

    class SamplingParams:
        def __init__(self, *args, **kwargs):
            record("SamplingParams", contract.sampling, args, kwargs)
            self.kwargs = kwargs

    class LoRARequest:
        def __init__(self, *args, **kwargs):
            record("LoRARequest", contract.lora_request, args, kwargs)
            self.lora_path = kwargs["lora_path"]

    class LLM:
        def __init__(self, *args, **kwargs):
            bound = contract.llm_init.bind(*args, **kwargs)
            extra = bound.arguments.get("kwargs", {})
            unknown = set(extra) - contract.engine_args
            if unknown:
                raise TypeError(f"LLM() got keyword(s) that are neither its parameters nor EngineArgs fields: "
                                f"{unknown}")
            calls.setdefault("LLM", []).append(kwargs)

        def generate(self, *args, **kwargs):
            record("generate", contract.llm_generate, args, kwargs)
            bound = contract.llm_generate.bind(*args, **kwargs).arguments
            prompts, params = bound["prompts"], bound["sampling_params"]
            for p in prompts:
                assert set(p) <= contract.tokens_prompt, p
            n = params.kwargs["n"]
            return [types.SimpleNamespace(outputs=[types.SimpleNamespace(text=f"stand-in {i}.{k}")
                                                   for k in range(n)]) for i, _ in enumerate(prompts)]

    module = types.ModuleType("vllm")
    module.LLM, module.SamplingParams = LLM, SamplingParams
    lora, request = types.ModuleType("vllm.lora"), types.ModuleType("vllm.lora.request")
    request.LoRARequest = LoRARequest
    lora.request = request
    module.lora = lora
    return {"vllm": module, "vllm.lora": lora, "vllm.lora.request": request}


def test_vllm_source_has_what_the_kit_reads(contract):
    from gr_colab.vllm_backend import LORA_RANKS

    assert LORA_RANKS == contract.max_lora_ranks
    for name in ("tensor_parallel_size", "dtype", "seed", "gpu_memory_utilization"):
        assert name in contract.llm_init.parameters
    for name in ("enable_lora", "max_lora_rank", "max_loras", "max_model_len", "max_num_seqs"):
        assert name in contract.engine_args
    assert contract.llm_generate.parameters["lora_request"].kind is inspect.Parameter.KEYWORD_ONLY
    assert {"outputs"} <= contract.request_output and {"text"} <= contract.completion_output
    assert "prompt_token_ids" in contract.tokens_prompt
    assert "modules_to_save" in contract.peft_helper  # why an adapter with modules_to_save is refused up front


@pytest.fixture
def adapter_dir(tmp_path, twin_config):
    """A PEFT adapter folder as the kit saves one (config and tokenizer); vLLM reads only these files' names here."""
    from gr_colab.models import resolve_model_path

    twin = Path(resolve_model_path(twin_config))
    adapter = tmp_path / "rsft" / "adapter"
    adapter.mkdir(parents=True)
    for f in twin.iterdir():  # what finish() saves beside the weights: the tokenizer and its chat template
        if f.is_file() and f.name.startswith(("tokenizer", "special_tokens", "chat_template")):
            shutil.copy(f, adapter / f.name)
    (adapter / "adapter_config.json").write_text(json.dumps({"r": 16, "lora_alpha": 32, "modules_to_save": None,
                                                             "peft_type": "LORA"}))
    return adapter


def test_the_kits_calls_bind_to_vllms_signatures(contract, adapter_dir, tmp_path, monkeypatch):
    from gr_colab import vllm_backend
    from gr_colab.config import GRConfig
    from gr_colab.generate import GenerationSettings, run_predictions

    calls: dict = {}
    for name, module in _stand_in_vllm(contract, calls).items():
        monkeypatch.setitem(sys.modules, name, module)
    monkeypatch.setattr(vllm_backend, "_ENGINES", {})
    cfg = GRConfig.load("cpu-tiny", generation_backend="vllm", tensor_parallel_size=4, max_new_tokens=2048,
                        mine_k=4, mine_temperature=0.7, mine_top_p=0.95, lora_r=12)
    items = [{"id": i, "input": f"Human user:\nrequest {i}\n\nAI assistant:\nNone\n\n", "label": "x"}
             for i in range(3)]

    guard = vllm_backend.load_generator(cfg, adapter_dir)
    assert guard.describe().endswith("(LoRARequest)")
    greedy = run_predictions(guard, items, tmp_path / "eval" / "generated_predictions.jsonl",
                             GenerationSettings.greedy(cfg), progress=False)
    assert [r["predict"] for r in greedy] == ["stand-in 0.0", "stand-in 1.0", "stand-in 2.0"]
    engine = calls["LLM"][0]
    assert engine["tensor_parallel_size"] == 4 and engine["enable_lora"] is True
    assert engine["max_lora_rank"] == 16  # rank 16 adapter (config 12): vLLM's next allowed rank
    assert engine["max_model_len"] == cfg.max_seq_length + 2048
    lora = calls["LoRARequest"][0]
    assert lora["lora_path"] == str(adapter_dir.resolve()) and lora["lora_int_id"] >= 1
    sp = calls["SamplingParams"][0]
    assert (sp["n"], sp["temperature"], sp["top_p"], sp["max_tokens"]) == (1, 0.0, 1.0, 2048)  # the paper's eval
    assert sp["stop_token_ids"]

    sampled = run_predictions(guard, items, tmp_path / "mine" / "generated_predictions.jsonl",
                              GenerationSettings.sampling(cfg), progress=False)
    assert [len(r["samples"]) for r in sampled] == [4, 4, 4]
    sp = calls["SamplingParams"][-1]
    assert (sp["n"], sp["temperature"], sp["top_p"]) == (4, 0.7, 0.95)  # the paper's mining
    assert len(calls["LLM"]) == 1  # the engine is reused; the adapter rides on it
    # resumable like the transformers backend: a rerun generates nothing new
    run_predictions(guard, items, tmp_path / "eval" / "generated_predictions.jsonl", GenerationSettings.greedy(cfg),
                    progress=False)
    assert len(calls["generate"]) == 2
    vllm_backend.release()  # a generation stage's end: the engine goes, a later load starts a new one
    vllm_backend.load_generator(cfg, None)
    assert len(calls["LLM"]) == 2


def test_an_adapter_vllm_refuses_is_named(adapter_dir):
    from gr_colab.vllm_backend import VLLMUnavailable, adapter_rank

    cfg = json.loads((adapter_dir / "adapter_config.json").read_text())
    (adapter_dir / "adapter_config.json").write_text(json.dumps({**cfg, "modules_to_save": ["embed_tokens",
                                                                                             "lm_head"]}))
    with pytest.raises(VLLMUnavailable, match="modules_to_save"):
        adapter_rank(adapter_dir)
    (adapter_dir / "adapter_config.json").write_text(json.dumps({**cfg, "trainable_token_indices": [105, 106]}))
    with pytest.raises(VLLMUnavailable, match="trainable_tokens"):
        adapter_rank(adapter_dir)


def test_without_vllm_the_error_says_how_to_get_it(monkeypatch):
    from gr_colab import vllm_backend

    monkeypatch.setitem(sys.modules, "vllm", None)  # import vllm raises ImportError
    with pytest.raises(vllm_backend.VLLMUnavailable, match="pip install vllm=="):
        vllm_backend._vllm()
