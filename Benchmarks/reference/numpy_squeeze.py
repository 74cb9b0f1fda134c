#!/usr/bin/env python3
"""A plain numpy squeeze, the yardstick the squeeze benchmark measures lora-squeeze against.

    numpy_squeeze.py make DIR [--layers 18] [--rank 64] [--seed 1]   a Gemma-2B-shaped PEFT adapter (f32)
    numpy_squeeze.py bench SRC --rank R                               seconds to squeeze SRC to R (printed)
    numpy_squeeze.py check SRC OUT --rank R                           is OUT the best rank-R approximation?

The squeeze is the textbook one, written for clarity: for each module, ΔW = s·B·A with s = alpha/r
(alpha/√r under rsLoRA); thin QR of B and of Aᵀ, an r×r SVD of s·R_B·R_Aᵀ, and B' = Q_B·U_t·√Σ_t,
A' = √Σ_t·V_tᵀ·Q_Aᵀ (Eckart–Young: the optimal rank-t approximation). `bench` times the squeeze
only (load excluded). `check` computes ‖ΔW − ΔW'‖_F for every module in factored form (never the
out×in matrix) against the optimum √(Σ_{i>t} σ_i²) and fails when the excess passes 1e-4·‖ΔW‖_F.
Only adapters without rank_pattern/alpha_pattern are handled (what `make` writes, what the
benchmark uses); lora-squeeze's outputs have r = lora_alpha = R, so their scale is 1.
"""
import argparse
import json
import math
import os
import sys
import time

import numpy as np
from safetensors.numpy import load_file, save_file

# Gemma-2B: hidden 2048, MLP 16384, 8 query heads and 1 key/value head of 256.
GEMMA_2B = [("self_attn.q_proj", 2048, 2048), ("self_attn.k_proj", 2048, 256), ("self_attn.v_proj", 2048, 256),
            ("self_attn.o_proj", 2048, 2048), ("mlp.gate_proj", 2048, 16384), ("mlp.up_proj", 2048, 16384),
            ("mlp.down_proj", 16384, 2048)]


def make(directory, layers, rank, seed):
    os.makedirs(directory, exist_ok=True)
    rng = np.random.default_rng(seed)
    decay = (0.9 ** np.arange(rank, dtype=np.float32))[None, :]   # a spectrum that falls off
    tensors = {}
    for layer in range(layers):
        for path, fin, fout in GEMMA_2B:
            prefix = f"base_model.model.model.layers.{layer}.{path}"
            tensors[prefix + ".lora_A.weight"] = (rng.standard_normal((rank, fin), dtype=np.float32) / np.float32(math.sqrt(fin)))
            tensors[prefix + ".lora_B.weight"] = rng.standard_normal((fout, rank), dtype=np.float32) * np.float32(0.02) * decay
    save_file(tensors, os.path.join(directory, "adapter_model.safetensors"))
    config = {"peft_type": "LORA", "task_type": "CAUSAL_LM", "base_model_name_or_path": "google/gemma-2b",
              "r": rank, "lora_alpha": 2 * rank, "lora_dropout": 0.0, "bias": "none", "fan_in_fan_out": False,
              "use_rslora": False, "target_modules": sorted({p.split(".")[1] for p, _, _ in GEMMA_2B})}
    with open(os.path.join(directory, "adapter_config.json"), "w") as f:
        json.dump(config, f, indent=2, sort_keys=True)


def modules(directory):
    """{module: (A, B, scale)} in float64."""
    with open(os.path.join(directory, "adapter_config.json")) as f:
        config = json.load(f)
    if config.get("rank_pattern") or config.get("alpha_pattern"):
        sys.exit("numpy_squeeze.py handles adapters without rank_pattern/alpha_pattern only")
    tensors = load_file(os.path.join(directory, "adapter_model.safetensors"))
    r, alpha = config["r"], config["lora_alpha"]
    scale = alpha / math.sqrt(r) if config.get("use_rslora") else alpha / r
    out = {}
    for name, a in tensors.items():
        if name.endswith(".lora_A.weight"):
            stem = name[: -len(".lora_A.weight")]
            out[stem] = (a.astype(np.float64), tensors[stem + ".lora_B.weight"].astype(np.float64), scale)
    return out


def factored_svd(a, b, scale):
    qb, rb = np.linalg.qr(b)
    qa, ra = np.linalg.qr(a.T)
    u, sigma, vt = np.linalg.svd(scale * rb @ ra.T)
    return qb, u, sigma, vt, qa


def squeeze(a, b, scale, rank):
    qb, u, sigma, vt, qa = factored_svd(a, b, scale)
    root = np.sqrt(sigma[:rank])
    return (root[:, None] * vt[:rank]) @ qa.T, (qb @ u[:, :rank]) * root[None, :]


def frobenius2(u, vt):
    """‖U·Vᵀ‖_F² from the factors: trace((UᵀU)(VᵀV))."""
    return float(np.sum((u.T @ u) * (vt @ vt.T)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="command", required=True)
    m = sub.add_parser("make"); m.add_argument("dir"); m.add_argument("--layers", type=int, default=18)
    m.add_argument("--rank", type=int, default=64); m.add_argument("--seed", type=int, default=1)
    b = sub.add_parser("bench"); b.add_argument("src"); b.add_argument("--rank", type=int, required=True)
    c = sub.add_parser("check"); c.add_argument("src"); c.add_argument("out"); c.add_argument("--rank", type=int, required=True)
    args = ap.parse_args()
    if args.command == "make":
        make(args.dir, args.layers, args.rank, args.seed)
    elif args.command == "bench":
        source = modules(args.src)
        start = time.perf_counter()
        for a, bb, scale in source.values():
            squeeze(a, bb, scale, args.rank)
        print(f"{time.perf_counter() - start:.4f}")
    else:
        source, output = modules(args.src), modules(args.out)
        worst = 0.0
        for name, (a, bb, scale) in source.items():
            a2, b2, scale2 = output[name]
            if a2.shape[0] > args.rank:
                sys.exit(f"check: {name} has rank {a2.shape[0]} in the output, more than {args.rank}: FAIL")
            sigma = factored_svd(a, bb, scale)[2]
            optimum = math.sqrt(float(np.sum(sigma[args.rank:] ** 2)))
            norm = math.sqrt(float(np.sum(sigma ** 2)))
            error = math.sqrt(max(0.0, frobenius2(np.hstack([scale * bb, -scale2 * b2]), np.vstack([a, a2]))))
            worst = max(worst, (error - optimum) / norm)
        ok = worst <= 1e-4
        print(f"check: {len(source)} modules, worst excess error {worst:.2e} of ‖ΔW‖ (limit 1e-4): {'ok' if ok else 'FAIL'}")
        sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
