#!/usr/bin/env python3
"""Merged models (a base with an adapter added into its weights) against PEFT's own forward pass.

    python3 Tests/Hub/check_merged.py BINARY

Run with a Python that has torch (CPU), transformers and peft (Tests/Hub/run.sh makes that
virtualenv). It makes two tiny models with transformers (random weights, float32, saved to a
temporary directory) and a LoRA adapter for each with PEFT itself, uploads both to BINARY (started as
in check_hub.py, authentication on) — each base with POST /v1/bases?name=…, one multipart part per
file save_pretrained wrote, and each adapter with its base_model_name_or_path rewritten to that name,
so that the merged routes find their base without ?base= — and checks:

- a Gemma (untied embeddings), saved in several shards with an index, and a rank-16 adapter on
  q_proj, v_proj, down_proj and embed_tokens (an embedding: PEFT's lora_embedding_A/B, merged
  transposed), uploaded as `team-a/tiny-chat`: the logits of
  (a) the base with the service's rank-8 squeeze loaded by PeftModel.from_pretrained,
  (b) the merged directory downloaded file by file from /v1/adapters/team-a%2Ftiny-chat/merged/8/…,
  (c) AutoModelForCausalLM.from_pretrained("team-a/tiny-chat") in a child process with only
      HF_ENDPOINT=…/hub/merged-r8 and HF_TOKEN set,
  agree: (b) and (c) exactly (and byte for byte in their files), both with (a) to float32 rounding
  (max |Δlogit| ≤ 1e-4 · max |logit|), and the adapter changes the logits by far more than that.
  Each targeted weight of the merged shards is W + s·B'·A' computed here with numpy; every other
  tensor is the base's, array for array; config.json, generation_config.json, the index and the
  shards the adapter does not touch are the base's bytes. merged/8.tar holds the same files, and
  ?base=<digest> names the same base. merged/original agrees with PEFT on the uploaded adapter,
  and differs from merged/8 by more than the tolerance (each is its own squeeze, not the other's).
- a GPT-2 (one file; attention c_attn is a Conv1D, its weight stored in × out) and a rank-8
  adapter on c_attn with fan_in_fan_out=True, uploaded as `team-a/tiny-gpt2`: merged/original
  agrees with PEFT on the uploaded adapter, and c_attn is W + s·(B·A)ᵀ.

Exits non-zero on a failed check; everything it made is removed.
"""
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.parse

os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import numpy as np
from safetensors.numpy import load

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check_hub import Server, check, multipart  # noqa: E402

NAME, BASE = "team-a/tiny-chat", "tiny/gemma"
GPT2_NAME, GPT2_BASE = "team-a/tiny-gpt2", "tiny/gpt2"
RANK = 8
IDS = [[1, 5, 9, 200, 17, 3]]
# The merged model's logits against PEFT's, relative to the largest logit. A merged weight is W + ΔW
# rounded once to float32; PEFT computes x·W and x·A·B apart and adds them, so the two differ by float32
# rounding only (a few 1e-7 per product, grown by two layers), far below this; a wrong tensor, layout
# or scale moves the logits by about as much as the adapter does (checked to be ≥ 100 times this).
TOLERANCE = 1e-4
# A merged weight against W + s·B·A computed here in float64: rounded once to float32, and the
# service's own sum of r products in float32.
WEIGHT_TOLERANCE = 1e-5

CHILD = r"""
import json, sys
import numpy as np, torch
from transformers import AutoModelForCausalLM
from transformers.utils import logging
logging.set_verbosity_error()
model = AutoModelForCausalLM.from_pretrained(sys.argv[1])
with torch.no_grad():
    np.save(sys.argv[3], model(torch.tensor(json.loads(sys.argv[2]))).logits.numpy())
"""


def q(name):
    return urllib.parse.quote(name, safe="")


def decaying(parameter, torch):
    """A factor for A's rows (r of them): a decaying spectrum, so that the rank-8 squeeze drops something."""
    return torch.exp(-torch.arange(parameter.shape[0], dtype=torch.float32) / 3.0)[:, None]


def make_gemma(work):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import GemmaConfig, GemmaForCausalLM

    torch.manual_seed(5)
    # Untied: PEFT's embed_tokens LoRA changes the input embedding only, while a merged embedding tied
    # to lm_head would change the output layer too.
    config = GemmaConfig(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                         num_key_value_heads=1, head_dim=16, vocab_size=256, max_position_embeddings=64,
                         tie_word_embeddings=False)
    base_dir, adapter_dir = os.path.join(work, "gemma-base"), os.path.join(work, "gemma-adapter")
    GemmaForCausalLM(config).save_pretrained(base_dir, max_shard_size="100KB")
    model = get_peft_model(GemmaForCausalLM.from_pretrained(base_dir),
                           LoraConfig(r=16, lora_alpha=32, target_modules=["q_proj", "v_proj", "down_proj", "embed_tokens"],
                                      lora_dropout=0.0))
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "lora_B" in name:   # PEFT starts B at zero; a trained adapter's is not
                parameter.copy_(torch.randn_like(parameter) * 0.05)
            elif "lora_A" in name:
                parameter.mul_(decaying(parameter, torch))
            elif "lora_embedding_A" in name:   # PEFT starts an embedding's A at zero (and B random)
                parameter.copy_(torch.randn_like(parameter) * decaying(parameter, torch))
            elif "lora_embedding_B" in name:
                parameter.copy_(torch.randn_like(parameter) * 0.01)
    model.save_pretrained(adapter_dir)   # with embed_tokens' own weight too, as PEFT does by default
    rename_base(adapter_dir, BASE)
    return base_dir, adapter_dir


def make_gpt2(work):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(6)
    config = GPT2Config(n_layer=2, n_embd=64, n_head=4, vocab_size=256, n_positions=64, bos_token_id=0, eos_token_id=0)
    base_dir, adapter_dir = os.path.join(work, "gpt2-base"), os.path.join(work, "gpt2-adapter")
    GPT2LMHeadModel(config).save_pretrained(base_dir)
    model = get_peft_model(GPT2LMHeadModel.from_pretrained(base_dir),
                           LoraConfig(r=8, lora_alpha=16, target_modules=["c_attn"], fan_in_fan_out=True, lora_dropout=0.0))
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "lora_B" in name:
                parameter.copy_(torch.randn_like(parameter) * 0.05)
    model.save_pretrained(adapter_dir)
    rename_base(adapter_dir, GPT2_BASE)
    return base_dir, adapter_dir


def rename_base(adapter_dir, name):
    """PEFT writes the local path as base_model_name_or_path; the service finds the base by name."""
    path = os.path.join(adapter_dir, "adapter_config.json")
    with open(path) as f:
        config = json.load(f)
    config["base_model_name_or_path"] = name
    with open(path, "w") as f:
        json.dump(config, f, indent=2)


def files_of(folder):
    return {name: open(os.path.join(folder, name), "rb").read() for name in sorted(os.listdir(folder))
            if not name.startswith(".")}


def upload(server, route, folder):
    files = files_of(folder)
    body, content_type = multipart([(n, "application/octet-stream", data) for n, data in files.items()])
    return json.loads(server.call("POST", route, body, content_type)), files


def write(folder, files):
    os.makedirs(folder)
    for name, data in files.items():
        with open(os.path.join(folder, name), "wb") as f:
            f.write(data)
    return folder


def deltas(config, tensors):
    """s·B·A of every module, keyed by the base weight it is added to and in that weight's layout:
    transposed for an embedding (PEFT's lora_embedding_A is r × vocab) and with fan_in_fan_out."""
    s = config["lora_alpha"] / config["r"]
    assert not config.get("rank_pattern") and not config.get("alpha_pattern") and not config.get("use_rslora")
    out = {}
    for key in tensors:
        for a_suffix, b_suffix, transposed in ((".lora_A.weight", ".lora_B.weight", config.get("fan_in_fan_out", False)),
                                               (".lora_embedding_A", ".lora_embedding_B", True)):
            if key.endswith(a_suffix):
                module = key[: -len(a_suffix)]
                a, b = tensors[key].astype(np.float64), tensors[module + b_suffix].astype(np.float64)
                delta = s * b @ a
                out[module.split("base_model.model.", 1)[-1] + ".weight"] = delta.T if transposed else delta
    return out


def logits_of(model):
    import torch
    with torch.no_grad():
        return model(torch.tensor(IDS)).logits.numpy()


def load_model(folder, adapter=None):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM
    model = AutoModelForCausalLM.from_pretrained(folder)
    return PeftModel.from_pretrained(model, adapter) if adapter else model


def close(got, want, what):
    if got.shape != want.shape:
        raise AssertionError(f"{what}: logits of shape {got.shape}, not {want.shape}")
    difference = float(np.abs(got - want).max())
    bound = TOLERANCE * float(np.abs(want).max())
    check(difference <= bound, f"{what}: max |Δlogit| {difference:.2e} ≤ {bound:.2e} (1e-4 · max |logit|)")
    return bound


def check_shards(label, base_files, merged_files, expected):
    """Every targeted weight is W + ΔW, every other tensor the base's, every other file the base's bytes."""
    same = [n for n, data in base_files.items() if not n.endswith(".safetensors")]
    check(all(merged_files[n] == base_files[n] for n in same), f"{label}: {', '.join(same)} are the base's, byte for byte")
    found = set()
    for name, data in base_files.items():
        if not name.endswith(".safetensors"):
            continue
        base, merged = load(data), load(merged_files[name])
        check(sorted(merged) == sorted(base) and all(merged[k].dtype == base[k].dtype and merged[k].shape == base[k].shape
                                                     for k in base),
              f"{label}: {name} has the base's {len(base)} tensors, dtypes and shapes")
        targeted = sorted(k for k in base if k in expected)
        if not targeted:
            check(merged_files[name] == data, f"{label}: {name} (nothing targeted) is the base's, byte for byte")
            continue
        others = [k for k in base if k not in expected]
        check(all(np.array_equal(merged[k], base[k]) for k in others),
              f"{label}: {name}: its {len(others)} tensors not targeted are the base's, exactly")
        errors = {}
        for k in targeted:
            want = base[k].astype(np.float64) + expected[k]
            errors[k] = float(np.abs(merged[k].astype(np.float64) - want).max()) / float(np.abs(want).max())
            found.add(k)
        worst = max(errors, key=errors.get)
        unchanged = [k for k in targeted if np.array_equal(merged[k], base[k])]
        short = ", ".join(k.removeprefix("model.").removeprefix("transformer.").removesuffix(".weight") for k in targeted)
        ok = errors[worst] <= WEIGHT_TOLERANCE and not unchanged
        check(ok, f"{label}: {name}: {short} are W + s·B·A (relative ≤ {errors[worst]:.1e})"
              + ("" if ok else f" — worst {worst}, unchanged {unchanged}"))
    check(found == set(expected), f"{label}: all {len(expected)} targeted weights were merged")


def check_gemma(server, work):
    base_dir, adapter_dir = make_gemma(work)
    listed = sorted(os.listdir(base_dir))
    shards = [n for n in listed if n.endswith(".safetensors")]
    check(len(shards) >= 3 and "model.safetensors.index.json" in listed,
          f"gemma: save_pretrained wrote {len(shards)} shards and model.safetensors.index.json")
    uploaded, base_files = upload(server, f"/v1/bases?name={BASE}", base_dir)
    check(sorted(f["path"] for f in uploaded["files"]) == listed, f"gemma: the base {BASE} holds the {len(listed)} files")
    listing = server.json("GET", f"/v1/bases/{q(BASE)}")
    check(listing["digest"] == uploaded["digest"], f"gemma: GET /v1/bases/{q(BASE)} is that base")
    _, adapter_files = upload(server, f"/v1/adapters?name={NAME}", adapter_dir)
    read = server.json("POST", "/v1/tokens", {"name": "merged-read", "scope": "read"})["token"]

    squeezed = {n: server.call("GET", f"/v1/adapters/{q(NAME)}/squeezed/{RANK}/{n}")
                for n in ("adapter_config.json", "adapter_model.safetensors")}
    squeezed_dir = write(os.path.join(work, "gemma-squeezed"), squeezed)
    merged = {f["path"]: server.call("GET", f"/v1/adapters/{q(NAME)}/merged/{RANK}/{f['path']}") for f in listing["files"]}
    merged_dir = write(os.path.join(work, "gemma-merged"), merged)

    # (c): a child process, so that HF_ENDPOINT and HF_TOKEN are all it is told.
    env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
    hf_home = os.path.join(work, "hf-home")
    env.update(HF_ENDPOINT=f"{server.base}/hub/merged-r{RANK}", HF_TOKEN=read, HF_HOME=hf_home,
               HF_HUB_DISABLE_PROGRESS_BARS="1", HF_HUB_DISABLE_TELEMETRY="1")
    hub_logits_path = os.path.join(work, "hub-logits.npy")
    run = subprocess.run([sys.executable, "-c", CHILD, NAME, json.dumps(IDS), hub_logits_path], env=env,
                         capture_output=True, text=True, timeout=600)
    if run.returncode != 0:
        print(run.stderr, file=sys.stderr)
    check(run.returncode == 0, f"gemma: AutoModelForCausalLM.from_pretrained({NAME!r}) with HF_ENDPOINT=…/hub/merged-r{RANK} loads")
    hub = np.load(hub_logits_path)
    snapshots = os.path.join(hf_home, "hub", "models--" + NAME.replace("/", "--"), "snapshots")
    snapshot = files_of(os.path.join(snapshots, os.listdir(snapshots)[0]))
    check(snapshot == merged, f"gemma: the hub's snapshot holds the /v1 merged files, byte for byte ({len(merged)} files)")

    plain = logits_of(load_model(base_dir))
    reference = logits_of(load_model(base_dir, squeezed_dir))
    downloaded = logits_of(load_model(merged_dir))
    bound = close(downloaded, reference, f"gemma: (b) merged/{RANK} files vs (a) PEFT with squeezed/{RANK}")
    close(hub, reference, f"gemma: (c) the hub's merged-r{RANK} vs (a) PEFT with squeezed/{RANK}")
    check(np.array_equal(hub, downloaded), "gemma: (c) the hub's logits equal (b) the downloaded ones exactly")
    change = float(np.abs(reference - plain).max())
    check(change >= 100 * bound, f"gemma: the adapter changes the logits by up to {change:.3g} (≥ 100 × the tolerance)")

    check_shards(f"gemma merged/{RANK}", base_files, merged,
                 deltas(json.loads(squeezed["adapter_config.json"]), load(squeezed["adapter_model.safetensors"])))
    with tarfile.open(fileobj=io.BytesIO(server.call("GET", f"/v1/adapters/{q(NAME)}/merged/{RANK}.tar"))) as tar:
        archived = {m.name: tar.extractfile(m).read() for m in tar.getmembers()}
    check(archived == merged, f"gemma: merged/{RANK}.tar holds the same {len(archived)} files, byte for byte")
    touched = next(n for n in shards if merged[n] != base_files[n])
    by_digest = server.call("GET", f"/v1/adapters/{q(NAME)}/merged/{RANK}/{touched}?base={uploaded['digest']}")
    check(by_digest == merged[touched], f"gemma: ?base=<digest> merges into the same base ({touched})")

    original = {f["path"]: server.call("GET", f"/v1/adapters/{q(NAME)}/merged/original/{f['path']}") for f in listing["files"]}
    original_dir = write(os.path.join(work, "gemma-merged-original"), original)
    reference = logits_of(load_model(base_dir, adapter_dir))
    bound = close(logits_of(load_model(original_dir)), reference, "gemma: merged/original vs PEFT with the uploaded adapter")
    check(float(np.abs(reference - plain).max()) >= 100 * bound, "gemma: ... which changes the logits (≥ 100 × the tolerance)")
    squeeze = float(np.abs(reference - downloaded).max())
    check(squeeze > bound, f"gemma: merged/original and merged/{RANK} differ (by up to {squeeze:.2e}): the tolerance sees the squeeze")
    check_shards("gemma merged/original", base_files, original, deltas(json.loads(adapter_files["adapter_config.json"]),
                                                                       load(adapter_files["adapter_model.safetensors"])))


def check_gpt2(server, work):
    base_dir, adapter_dir = make_gpt2(work)
    check(sorted(n for n in os.listdir(base_dir) if n.endswith(".safetensors")) == ["model.safetensors"],
          "gpt2: save_pretrained wrote one model.safetensors")
    uploaded, base_files = upload(server, f"/v1/bases?name={GPT2_BASE}", base_dir)
    _, adapter_files = upload(server, f"/v1/adapters?name={GPT2_NAME}", adapter_dir)
    merged = {f["path"]: server.call("GET", f"/v1/adapters/{q(GPT2_NAME)}/merged/original/{f['path']}")
              for f in uploaded["files"]}
    merged_dir = write(os.path.join(work, "gpt2-merged-original"), merged)
    plain = logits_of(load_model(base_dir))
    reference = logits_of(load_model(base_dir, adapter_dir))
    bound = close(logits_of(load_model(merged_dir)), reference,
                  "gpt2: merged/original vs PEFT with the uploaded adapter (Conv1D, fan_in_fan_out)")
    change = float(np.abs(reference - plain).max())
    check(change >= 100 * bound, f"gpt2: the adapter changes the logits by up to {change:.3g} (≥ 100 × the tolerance)")
    check_shards("gpt2 merged/original", base_files, merged, deltas(json.loads(adapter_files["adapter_config.json"]),
                                                                    load(adapter_files["adapter_model.safetensors"])))


def main():
    if len(sys.argv) != 2 or not os.access(sys.argv[1], os.X_OK):
        sys.exit("usage: check_merged.py BINARY   (BINARY: a built lora-squeeze)")
    import huggingface_hub
    import peft
    import torch
    import transformers
    from transformers.utils import logging
    logging.set_verbosity_error()
    import warnings
    warnings.filterwarnings("ignore", message="Setting `save_embedding_layers` to `True`")
    print(f"== merged models: torch {torch.__version__}, transformers {transformers.__version__}, PEFT {peft.__version__}, "
          f"huggingface_hub {huggingface_hub.__version__}")

    work = tempfile.mkdtemp(prefix="merged-check-")
    try:
        with Server(sys.argv[1]) as server:
            check_gemma(server, work)
            check_gpt2(server, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("== merged: every check passed")


if __name__ == "__main__":
    try:
        main()
    except AssertionError as e:
        sys.exit(f"FAILED: {e}")
