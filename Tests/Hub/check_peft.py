#!/usr/bin/env python3
"""PEFT loads an adapter by name from the hub protocol: the README's command, run for real.

    python3 Tests/Hub/check_peft.py BINARY

Run with a Python that has torch (CPU), transformers and peft (Tests/Hub/run.sh makes that
virtualenv). It makes a tiny Llama model with transformers (2 layers, hidden 64, random weights, saved
to a temporary directory: the base model stays local, as the README says) and a rank-16 LoRA adapter
for it with PEFT itself (q_proj and v_proj, B made non-zero), uploads the adapter as
`team-a/tiny-chat` to BINARY (started as in check_hub.py, authentication on), then in a child process
with only HF_ENDPOINT=…/hub/r8 and HF_TOKEN set runs

    base = AutoModelForCausalLM.from_pretrained(<local path>)
    model = PeftModel.from_pretrained(base, "team-a/tiny-chat")

and checks that the loaded adapter is the service's rank-8 squeeze: r = 8 in the loaded config, and
every module's scaling·B·A equal (relative 1e-6) to the one computed here with numpy from
GET /v1/adapters/team-a/tiny-chat/squeezed/8/… — and that a forward pass runs and the adapter changes
the logits. Exits non-zero on a failed check; everything it made is removed.
"""
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
from safetensors.numpy import load

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check_hub import Server, check, multipart, peft_updates  # noqa: E402

NAME = "team-a/tiny-chat"
RANK = 8

CHILD = r"""
import json, sys, torch
from transformers import AutoModelForCausalLM
from peft import PeftModel
base = AutoModelForCausalLM.from_pretrained(sys.argv[1])
ids = torch.tensor([[1, 5, 9, 200, 17]])
with torch.no_grad():
    plain = base(ids).logits
model = PeftModel.from_pretrained(base, sys.argv[2])
with torch.no_grad():
    adapted = model(ids).logits
out = {"r": model.peft_config["default"].r, "changed": float((adapted - plain).abs().max()), "deltas": {}}
for name, module in model.named_modules():
    if hasattr(module, "lora_A") and "default" in getattr(module, "lora_A", {}):
        a = module.lora_A["default"].weight.detach().double()
        b = module.lora_B["default"].weight.detach().double()
        short = name.split("base_model.model.", 1)[-1]
        out["deltas"][short] = (module.scaling["default"] * (b @ a)).tolist()
print(json.dumps(out))
"""


def make_fixtures(work):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(5)
    config = LlamaConfig(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                         num_key_value_heads=2, vocab_size=256, max_position_embeddings=64)
    base_dir, adapter_dir = os.path.join(work, "tiny-base"), os.path.join(work, "tiny-adapter")
    LlamaForCausalLM(config).save_pretrained(base_dir)
    model = get_peft_model(LlamaForCausalLM.from_pretrained(base_dir),
                           LoraConfig(r=16, lora_alpha=32, target_modules=["q_proj", "v_proj"], lora_dropout=0.0))
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "lora_B" in name:   # PEFT starts B at zero; a trained adapter's is not
                parameter.copy_(torch.randn_like(parameter) * 0.05)
            elif "lora_A" in name:
                decay = torch.exp(-torch.arange(parameter.shape[0], dtype=torch.float32) / 3.0)[:, None]
                parameter.mul_(decay)
    model.save_pretrained(adapter_dir)
    return base_dir, adapter_dir


def main():
    if len(sys.argv) != 2 or not os.access(sys.argv[1], os.X_OK):
        sys.exit("usage: check_peft.py BINARY   (BINARY: a built lora-squeeze)")
    import peft
    import transformers
    print(f"== PEFT {peft.__version__}, transformers {transformers.__version__}")
    work = tempfile.mkdtemp(prefix="peft-check-")
    try:
        base_dir, adapter_dir = make_fixtures(work)
        with Server(sys.argv[1]) as server:
            files = [(n, "application/octet-stream", open(os.path.join(adapter_dir, n), "rb").read())
                     for n in ("adapter_config.json", "adapter_model.safetensors")]
            body, content_type = multipart(files)
            server.call("POST", f"/v1/adapters?name={NAME}", body, content_type)
            read = server.json("POST", "/v1/tokens", {"name": "peft-read", "scope": "read"})["token"]
            squeezed_config = server.call("GET", f"/v1/adapters/{NAME}/squeezed/{RANK}/adapter_config.json")
            squeezed_weights = server.call("GET", f"/v1/adapters/{NAME}/squeezed/{RANK}/adapter_model.safetensors")
            expected = peft_updates(json.loads(squeezed_config), load(squeezed_weights))
            source = peft_updates(json.loads(files[0][2]), load(files[1][2]))

            env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
            env.update(HF_ENDPOINT=f"{server.base}/hub/r{RANK}", HF_TOKEN=read, HF_HOME=os.path.join(work, "hf-home"),
                       HF_HUB_DISABLE_PROGRESS_BARS="1", HF_HUB_DISABLE_TELEMETRY="1")
            run = subprocess.run([sys.executable, "-c", CHILD, base_dir, NAME], env=env, capture_output=True,
                                 text=True, timeout=600)
            if run.returncode != 0:
                print(run.stderr, file=sys.stderr)
            check(run.returncode == 0, f"PeftModel.from_pretrained(base, {NAME!r}) with HF_ENDPOINT=…/hub/r{RANK} loads")
            loaded = json.loads(run.stdout.strip().splitlines()[-1])
        check(loaded["r"] == RANK, f"the loaded adapter has r = {loaded['r']}")
        check(sorted(loaded["deltas"]) == sorted(expected), f"the loaded modules are the adapter's {len(expected)}")
        for name, delta in expected.items():
            got = np.array(loaded["deltas"][name])
            error = float(np.linalg.norm(got - delta)) / float(np.linalg.norm(delta))
            check(error <= 1e-6, f"{name}: scaling·B·A as PEFT loaded it is the service's squeeze (relative {error:.1e})")
            sigma = np.linalg.svd(source[name], compute_uv=False)
            best = math.sqrt(float(np.sum(sigma[RANK:] ** 2)))
            check(abs(float(np.linalg.norm(source[name] - got)) - best) <= 1e-4 * float(np.linalg.norm(source[name])),
                  f"{name}: and the optimal rank-{RANK} approximation of the uploaded one")
        check(loaded["changed"] > 0, f"a forward pass runs and the adapter changes the logits (by up to {loaded['changed']:.3g})")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("== PEFT: every check passed")


if __name__ == "__main__":
    try:
        main()
    except AssertionError as e:
        sys.exit(f"FAILED: {e}")
