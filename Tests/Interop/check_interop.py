#!/usr/bin/env python3
"""Interop check: adapters written by the Python safetensors library are squeezed by the
lora-squeeze binary, and its outputs are read back by the reference safetensors implementation and
checked the way PEFT and vLLM read them, and numerically against numpy's SVD (an implementation
independent of ours).

    python3 check_interop.py PATH/TO/lora-squeeze

Prints one line per check and ends with 'N passed, N failed'; exits non-zero on any failure.
"""
import json
import math
import os
import re
import subprocess
import sys
import tempfile

import numpy as np
from safetensors.numpy import load_file, save_file

BIN = sys.argv[1]
RESULTS = {"passed": 0, "failed": 0}


def check(name, ok, detail=""):
    RESULTS["passed" if ok else "failed"] += 1
    print(("ok   " if ok else "FAIL ") + name + ("" if ok else f": {detail}"))


def vllm_parse(name):
    """vLLM's parse_fine_tuned_lora_name (vllm/lora/utils.py): the names it accepts, and how."""
    start = 2 if name.startswith("base_model.model.") else 0
    parts = name.split(".")
    if parts[-1] == "weight" and parts[-2] in ("lora_A", "lora_B"):
        return ".".join(parts[start:-2]), parts[-2] == "lora_A"
    if parts[-1] in ("lora_embedding_A", "lora_embedding_B"):
        return ".".join(parts[start:-1]), parts[-1] == "lora_embedding_A"
    raise ValueError(f"{name} is unsupported LoRA weight")


def pattern(patterns, module, default):
    """PEFT's get_pattern_key rule: a key matches a dotted suffix of the module name."""
    for key in sorted(patterns, key=lambda k: (-len(k), k)):
        if re.match(rf"(.*\.)?({key})$", module):
            return patterns[key]
    return default


def make_peft(directory, modules, r, alpha, rank_pattern, alpha_pattern, rslora, dtype, seed):
    rng = np.random.default_rng(seed)
    tensors = {}
    for name, (out_f, in_f) in modules.items():
        rank = pattern(rank_pattern, name, r)
        decay = np.exp(-np.arange(rank) / 3.0)
        a = (rng.standard_normal((rank, in_f)) * decay[:, None] / math.sqrt(in_f)).astype(dtype)
        b = (rng.standard_normal((out_f, rank)) * 0.02).astype(dtype)
        tensors[f"base_model.model.{name}.lora_A.weight"] = a
        tensors[f"base_model.model.{name}.lora_B.weight"] = b
    tensors["base_model.model.lm_head.weight"] = rng.standard_normal((7, 5)).astype(np.float32)
    os.makedirs(directory, exist_ok=True)
    save_file(tensors, os.path.join(directory, "adapter_model.safetensors"), metadata={"format": "pt"})
    config = {"peft_type": "LORA", "task_type": "CAUSAL_LM", "base_model_name_or_path": "interop/model",
              "r": r, "lora_alpha": alpha, "rank_pattern": rank_pattern, "alpha_pattern": alpha_pattern,
              "use_rslora": rslora, "use_dora": False, "target_modules": ["q_proj", "v_proj", "fc1", "down_proj"],
              "modules_to_save": ["lm_head"], "lora_dropout": 0.0, "bias": "none", "fan_in_fan_out": False,
              "some_future_field": {"kept": True}}
    with open(os.path.join(directory, "adapter_config.json"), "w") as f:
        json.dump(config, f)
    return tensors, config


def run(*args):
    return subprocess.run([BIN, *args], capture_output=True, text=True, timeout=120)


def optimal_check(label, a, b, scale, a2, b2, rank, tol):
    x = scale * b.astype(np.float64) @ a.astype(np.float64)
    s = np.linalg.svd(x, compute_uv=False)
    best = math.sqrt(float(np.sum(s[rank:] ** 2)))
    norm = math.sqrt(float(np.sum(s ** 2)))
    err = float(np.linalg.norm(x - b2.astype(np.float64) @ a2.astype(np.float64)))
    check(f"{label}: ‖ΔW−B'A'‖ within {tol:g}·‖ΔW‖ of the optimum", abs(err - best) <= tol * norm,
          f"error {err:.6g}, optimal {best:.6g}, norm {norm:.6g}")


def peft_case(work, dtype, label, tol):
    modules = {"model.language_model.layers.0.self_attn.q_proj": (64, 48),
               "model.language_model.layers.0.self_attn.v_proj": (16, 48),
               "model.language_model.layers.0.mlp.down_proj": (48, 96),
               "model.vision_tower.vision_model.encoder.layers.0.mlp.fc1": (80, 36)}
    src = os.path.join(work, f"src-{label}")
    tensors, config = make_peft(src, modules, 16, 32, {"fc1": 8, "v_proj": 4}, {"down_proj": 8.0}, True, dtype, 3)
    out = os.path.join(work, f"out-{label}")
    p = run("squeeze", src, "--rank", "8", "--out", out)
    check(f"{label}: squeeze exits 0", p.returncode == 0, p.stderr)
    if p.returncode != 0:
        return
    with open(os.path.join(out, "adapter_config.json")) as f:
        cfg = json.load(f)
    check(f"{label}: config has r = lora_alpha = 8, no patterns, no rsLoRA",
          cfg["r"] == 8 and cfg["lora_alpha"] == 8 and not cfg["rank_pattern"] and not cfg["alpha_pattern"]
          and cfg["use_rslora"] is False, json.dumps(cfg))
    check(f"{label}: unknown config fields kept", cfg.get("some_future_field") == {"kept": True})
    got = load_file(os.path.join(out, "adapter_model.safetensors"))  # the reference reader
    check(f"{label}: modules_to_save tensor passed through",
          np.array_equal(got["base_model.model.lm_head.weight"], tensors["base_model.model.lm_head.weight"]))
    seen = set()
    for name, t in got.items():
        if name.endswith("lm_head.weight"):
            continue
        module, is_a = vllm_parse(name)
        seen.add(module)
        check(f"{label}: {name} dtype {t.dtype}", t.dtype == np.dtype(dtype), str(t.dtype))
    check(f"{label}: vLLM parses every LoRA tensor name", len(seen) == len(modules), str(seen))
    for name, (out_f, in_f) in modules.items():
        key = f"base_model.model.{name}"
        a, b = tensors[key + ".lora_A.weight"], tensors[key + ".lora_B.weight"]
        a2, b2 = got[key + ".lora_A.weight"], got[key + ".lora_B.weight"]
        check(f"{label}: {name} shapes [8, {in_f}] and [{out_f}, 8]", a2.shape == (8, in_f) and b2.shape == (out_f, 8),
              f"{a2.shape} {b2.shape}")
        r = a.shape[0]
        alpha = pattern(config["alpha_pattern"], name, config["lora_alpha"])
        scale = alpha / math.sqrt(r)  # use_rslora
        optimal_check(f"{label}: {name}", a, b, scale, a2, b2, min(8, r), tol)


def kohya_case(work):
    rng = np.random.default_rng(5)
    t = {}
    r = 12
    down = (rng.standard_normal((r, 6, 3, 3)) * np.exp(-np.arange(r) / 3.0)[:, None, None, None] / 7).astype(np.float32)
    up = (rng.standard_normal((20, r, 1, 1)) * 0.05).astype(np.float32)
    t["lora_unet_conv_in.lora_down.weight"], t["lora_unet_conv_in.lora_up.weight"] = down, up
    t["lora_unet_conv_in.alpha"] = np.array(6.0, dtype=np.float32)
    src = os.path.join(work, "kohya.safetensors")
    save_file(t, src, metadata={"ss_network_dim": "12", "ss_network_alpha": "6"})
    out = os.path.join(work, "kohya-out")
    p = run("squeeze", src, "--rank", "4", "--out", out)
    check("kohya: squeeze exits 0", p.returncode == 0, p.stderr)
    if p.returncode != 0:
        return
    got = load_file(os.path.join(out, "kohya.safetensors"))
    d2, u2 = got["lora_unet_conv_in.lora_down.weight"], got["lora_unet_conv_in.lora_up.weight"]
    check("kohya: conv kernels stay 4-D at the new rank", d2.shape == (4, 6, 3, 3) and u2.shape == (20, 4, 1, 1),
          f"{d2.shape} {u2.shape}")
    check("kohya: alpha equals the new rank", float(got["lora_unet_conv_in.alpha"]) == 4.0)
    optimal_check("kohya conv", down.reshape(r, -1), up.reshape(20, r), 6.0 / r, d2.reshape(4, -1), u2.reshape(20, 4), 4, 1e-5)


def main():
    with tempfile.TemporaryDirectory() as work:
        # float32 factors: outputs rounded to float32 once, ~1e-7 relative; 1e-5 leaves margin.
        peft_case(work, np.float32, "peft-f32", 1e-5)
        # float16 factors in and out: f16 rounding of the outputs (2^-11 relative) dominates.
        peft_case(work, np.float16, "peft-f16", 2e-3)
        kohya_case(work)
    print(f"interop: {RESULTS['passed']} passed, {RESULTS['failed']} failed")
    return 1 if RESULTS["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
