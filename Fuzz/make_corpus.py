#!/usr/bin/env python3
"""Writes the seed corpora under Fuzz/corpus/<target>/ (not the HTTP target's, which are hand-written).

    python3 -m pip install safetensors numpy   # the reference safetensors writer
    python3 Fuzz/make_corpus.py

Seeds are real files: safetensors written by the reference library (safetensors.numpy.save), tar
archives written by Python's tarfile, PEFT configs as PEFT writes them, multipart bodies as curl -F
sends them. A few are edited by hand where no library writes the case (BF16 and F8 dtypes, which numpy
lacks; a GNU base-256 size; broken framing, to seed the error paths); each says so. The output is
deterministic: running the script again rewrites the same bytes.

One file for every target's seeds (one function each), so that one command rewrites them all; that is
why it is longer than most files here.
"""
import io
import json
import os
import shutil
import struct
import tarfile

import numpy as np
from safetensors.numpy import save as reference_save

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")
TARGETS = ["safetensors-header", "multipart", "tar", "peft-config", "kohya-adapter", "model-directory"]
rng = np.random.default_rng(20240601)


def write(target, name, data):
    with open(os.path.join(CORPUS, target, name), "wb") as f:
        f.write(data)


def values(shape, dtype=np.float32, scale=0.02):
    return (rng.standard_normal(shape) * scale).astype(dtype)


# ---------------------------------------------------------------------------------------------------
# safetensors helpers

def save(tensors, metadata=None):
    """safetensors.numpy.save, with the metadata keys sorted: the reference writes its metadata map in
    hash order, which changes from run to run; sorting keeps the seeds' bytes stable."""
    data = reference_save(tensors, metadata=metadata)
    if not metadata or len(metadata) < 2:
        return data
    header, rest = split(data)
    header["__metadata__"] = dict(sorted(header["__metadata__"].items()))
    return join(header, rest)


def split(file_bytes):
    """(header dict, data bytes) of a safetensors file."""
    (n,) = struct.unpack("<Q", file_bytes[:8])
    return json.loads(file_bytes[8:8 + n]), file_bytes[8 + n:]


def join(header, data):
    """A safetensors file from a header dict and data, padded to 8 bytes as the reference does."""
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    return struct.pack("<Q", len(text)) + text + data


def with_dtype(file_bytes, dtypes):
    """The reference writer's output with some dtypes renamed (same width): BF16 and F8 files, which
    numpy cannot express, are written as U16/U8 by the library and relabelled here."""
    header, data = split(file_bytes)
    for name, dtype in dtypes.items():
        header[name]["dtype"] = dtype
    return join(header, data)


def bf16_bits(a):
    """float32 array → bfloat16 bit patterns (round to nearest even) as uint16."""
    bits = np.asarray(a, dtype=np.float32).view(np.uint32).astype(np.uint64)
    return ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype(np.uint16)


# ---------------------------------------------------------------------------------------------------
# safetensors-header: real files of every dtype and layout, then a few broken ones

def safetensors_seeds():
    t = "safetensors-header"
    write(t, "empty", save({}))
    write(t, "metadata-only", save({}, metadata={"format": "pt"}))
    write(t, "f32-matrix", save({"weight": values((4, 8))}, metadata={"format": "pt"}))
    write(t, "scalar-and-zero-size", save({"alpha": np.array(8.0, dtype=np.float32),
                                           "empty": np.zeros((0, 4), dtype=np.float16),
                                           "also_empty": np.zeros((3, 0), dtype=np.float32)}))
    ints = {
        "bool": np.array([True, False, True]), "u8": np.arange(5, dtype=np.uint8),
        "i8": np.arange(-3, 3, dtype=np.int8), "i16": np.arange(4, dtype=np.int16),
        "u16": np.arange(4, dtype=np.uint16), "i32": np.arange(3, dtype=np.int32),
        "u32": np.arange(3, dtype=np.uint32), "i64": np.arange(2, dtype=np.int64),
        "u64": np.arange(2, dtype=np.uint64),
    }
    write(t, "integer-dtypes", save(ints))
    write(t, "float-dtypes", save({"f16": values((3, 5), np.float16), "f32": values((2, 3)),
                                   "f64": values((2, 2), np.float64)}))
    write(t, "bf16", with_dtype(save({"w": bf16_bits(values((6, 4)))}), {"w": "BF16"}))
    write(t, "f8", with_dtype(save({"e4m3": np.arange(8, dtype=np.uint8), "e5m2": np.arange(4, dtype=np.uint8)}),
                              {"e4m3": "F8_E4M3", "e5m2": "F8_E5M2"}))
    write(t, "conv-4d", save({"conv.weight": values((4, 3, 3, 3), np.float16)}))
    write(t, "rank-8", save({"deep": values((1, 2, 1, 2, 1, 2, 1, 2))}))
    write(t, "nine-tensors", save({f"layer.{i}.weight": values((2, 2)) for i in range(9)}))
    nonfinite = np.array([1.0, np.nan, np.inf, -np.inf, -0.0, 1e-45], dtype=np.float32)
    write(t, "non-finite", save({"f32": nonfinite, "f16": nonfinite.astype(np.float16),
                                 "f64": nonfinite.astype(np.float64)}))
    write(t, "f16-subnormals", save({"tiny": np.array([6e-8, 6e-5, 65504, -65504], dtype=np.float16)}))
    write(t, "unicode-names", save({"λ.weight": values((2,)), "emoji😀": values((1,)), "quote\"back\\slash": values((1,)),
                                    "new\nline\ttab": values((1,))}, metadata={"clé": "valeur ✓", "empty": ""}))
    write(t, "big-metadata", save({"w": values((2,))}, metadata={f"ss_key_{i}": "x" * 90 for i in range(50)}))
    write(t, "peft-adapter", save({
        "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight": values((4, 16)),
        "base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight": values((16, 4)),
        "base_model.model.model.layers.0.self_attn.v_proj.lora_A.weight": values((4, 16)),
        "base_model.model.model.layers.0.self_attn.v_proj.lora_B.weight": values((8, 4)),
    }, metadata={"format": "pt"}))

    # By hand, from here on: framing the reference writer never produces.
    good = save({"a": values((2, 2)), "b": values((3,), np.float16)})
    header, data = split(good)
    escaped = b'{"\\u00e9\\ud83d\\ude00":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}'
    escaped += b" " * ((8 - len(escaped) % 8) % 8)
    write(t, "hand-unicode-escapes", struct.pack("<Q", len(escaped)) + escaped + struct.pack("<f", 1.0))
    write(t, "hand-truncated-data", good[:-3])
    write(t, "hand-trailing-data", good + b"\0\0\0\0")
    overlap = json.loads(json.dumps(header))
    overlap["b"]["data_offsets"] = [8, 14]
    write(t, "hand-overlapping", join(overlap, data))
    reversed_ = json.loads(json.dumps(header))
    reversed_["a"]["data_offsets"] = [16, 0]
    write(t, "hand-reversed-offsets", join(reversed_, data))
    unknown = json.loads(json.dumps(header))
    unknown["a"]["dtype"] = "F4"
    write(t, "hand-unknown-dtype", join(unknown, data))
    extra = json.loads(json.dumps(header))
    extra["a"]["extra"] = 1
    write(t, "hand-extra-field", join(extra, data))
    raw = b'{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}'
    write(t, "hand-duplicate-name", struct.pack("<Q", len(raw)) + raw + bytes(8))
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b"\0" * ((8 - len(text) % 8) % 8 or 8)
    write(t, "hand-nul-padding", struct.pack("<Q", len(text)) + text + data)
    text = json.dumps(header, separators=(",", ":")).encode()
    write(t, "hand-leading-space", struct.pack("<Q", len(text) + 1) + b" " + text + data)
    write(t, "hand-header-past-end", struct.pack("<Q", 1 << 20) + good[8:])
    raw = b'{"big":{"dtype":"F64","shape":[4294967296,4294967296],"data_offsets":[0,0]}}'
    write(t, "hand-size-overflow", struct.pack("<Q", len(raw)) + raw)
    raw = b'{"n":{"dtype":"F32","shape":[1.0,-0,1e3],"data_offsets":[0,4]}}'
    write(t, "hand-bad-dimensions", struct.pack("<Q", len(raw)) + raw + bytes(4))


# ---------------------------------------------------------------------------------------------------
# kohya-adapter: sd-scripts LoRA / LoCon files

KOHYA_META = {
    "ss_network_module": "networks.lora", "ss_network_dim": "4", "ss_network_alpha": "2.0",
    "ss_base_model_version": "sd_v1", "ss_output_name": "fixture", "ss_training_comment": "seed",
    "sshs_model_hash": "0" * 64,
}


def kohya_module(out, key, n_in, n_out, rank, dtype=np.float16, kernel=None, alpha=None):
    """One kohya module: lora_down [r, in(, kh, kw)], lora_up [out, r(, 1, 1)], alpha as a 0-d tensor."""
    down_shape = (rank, n_in) + (kernel or ())
    up_shape = (n_out, rank) + ((1, 1) if kernel else ())
    out[f"{key}.lora_down.weight"] = values(down_shape, dtype, 0.1)
    out[f"{key}.lora_up.weight"] = values(up_shape, dtype, 0.01)
    if alpha is not None:
        out[f"{key}.alpha"] = np.array(alpha, dtype=np.float32 if dtype == np.float64 else dtype)
    return out


def kohya_seeds():
    t = "kohya-adapter"
    sd15 = {}
    kohya_module(sd15, "lora_unet_down_blocks_0_attentions_0_proj_in", 32, 32, 4, kernel=(1, 1), alpha=2.0)
    kohya_module(sd15, "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q", 32, 32, 4, alpha=2.0)
    kohya_module(sd15, "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k", 24, 32, 4, alpha=2.0)
    kohya_module(sd15, "lora_te_text_model_encoder_layers_0_self_attn_q_proj", 24, 24, 4, alpha=2.0)
    write(t, "sd15-f16", save(sd15, metadata=KOHYA_META))

    locon = {}
    kohya_module(locon, "lora_unet_down_blocks_0_resnets_0_conv1", 8, 16, 2, kernel=(3, 3), alpha=1.0)
    kohya_module(locon, "lora_unet_up_blocks_1_attentions_0_proj_out", 16, 16, 2, kernel=(1, 1), alpha=1.0)
    write(t, "locon-conv3x3", save(locon, metadata=dict(KOHYA_META, ss_network_module="lycoris.kohya",
                                                         ss_network_dim="2", ss_network_alpha="1")))

    sdxl = {}
    kohya_module(sdxl, "lora_unet_input_blocks_4_1_proj_in", 20, 20, 3, np.float32, alpha=3.0)
    kohya_module(sdxl, "lora_te1_text_model_encoder_layers_0_mlp_fc1", 16, 32, 3, np.float32, alpha=1.5)
    kohya_module(sdxl, "lora_te2_text_model_encoder_layers_0_self_attn_out_proj", 16, 16, 3, np.float32, alpha=3.0)
    write(t, "sdxl-f32", save(sdxl, metadata=dict(KOHYA_META, ss_base_model_version="sdxl_base_v1-0",
                                                   ss_network_dim="3", ss_network_alpha="3")))

    no_alpha = {}
    kohya_module(no_alpha, "lora_unet_mid_block_attentions_0_proj_in", 16, 16, 2)
    write(t, "no-alpha-no-metadata", save(no_alpha))

    f64 = {}
    kohya_module(f64, "lora_unet_mid_block_attentions_0_transformer_blocks_0_ff_net_2", 12, 8, 2, np.float64, alpha=4.0)
    write(t, "f64-factors", save(f64, metadata={"ss_network_dim": "2"}))

    bf = {}
    kohya_module(bf, "lora_te_text_model_encoder_layers_11_mlp_fc2", 16, 8, 2, np.float32, alpha=1.0)
    bf = {k: (bf16_bits(v) if v.ndim else v) for k, v in bf.items()}
    names = {k: "BF16" for k, v in bf.items() if v.dtype == np.uint16}
    write(t, "bf16", with_dtype(save(bf, metadata={"ss_network_alpha": "1.0"}), names))

    extra = dict(no_alpha)
    extra["lora_unet_mid_block_attentions_0_proj_in.alpha"] = np.array(1.0, dtype=np.float16)
    extra["text_model.embeddings.position_ids"] = np.arange(8, dtype=np.int64)
    extra["lora_unet_orphan.alpha"] = np.array(4.0, dtype=np.float16)
    write(t, "passthrough-tensors", save(extra, metadata={"format": "pt", "ss_network_dim": "2"}))

    alpha1 = dict(no_alpha)
    alpha1["lora_unet_mid_block_attentions_0_proj_in.alpha"] = np.array([2.0], dtype=np.float32)
    write(t, "alpha-shape-1", save(alpha1))

    # Refused adapters, to seed those paths.
    bad = dict(no_alpha)
    bad["lora_unet_mid_block_attentions_0_proj_in.alpha"] = np.array([2.0, 3.0], dtype=np.float32)
    write(t, "bad-alpha-two-values", save(bad))
    bad = dict(no_alpha)
    del bad["lora_unet_mid_block_attentions_0_proj_in.lora_up.weight"]
    write(t, "bad-missing-up", save(bad))
    bad = dict(no_alpha)
    bad["lora_unet_mid_block_attentions_0_proj_in.dora_scale"] = values((1, 16), np.float16)
    write(t, "bad-dora", save(bad))
    bad = dict(no_alpha)
    bad["lora_unet_mid_block_attentions_0_proj_in.lora_up.weight"] = values((16, 3), np.float16)
    write(t, "bad-rank-mismatch", save(bad))
    bad = dict(no_alpha)
    bad["lora_unet_mid_block_attentions_0_proj_in.lora_down.weight"][0, 0] = np.nan
    write(t, "non-finite-down", save(bad))
    bad = dict(no_alpha)
    bad["lora_unet_mid_block_attentions_0_proj_in.alpha"] = np.array(2, dtype=np.int64)
    write(t, "bad-integer-alpha", save(bad))
    write(t, "bad-no-modules", save({"text_model.embeddings.position_ids": np.arange(4, dtype=np.int64)}))


# ---------------------------------------------------------------------------------------------------
# peft-config: adapter_config.json as PEFT writes it

PEFT_BASE = {
    "alpha_pattern": {}, "auto_mapping": None, "base_model_name_or_path": "google/gemma-2b", "bias": "none",
    "fan_in_fan_out": False, "inference_mode": True, "init_lora_weights": True, "layer_replication": None,
    "layers_pattern": None, "layers_to_transform": None, "loftq_config": {}, "lora_alpha": 16,
    "lora_dropout": 0.05, "megatron_config": None, "megatron_core": "megatron.core", "modules_to_save": None,
    "peft_type": "LORA", "r": 8, "rank_pattern": {}, "revision": None,
    "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
    "task_type": "CAUSAL_LM", "use_dora": False, "use_rslora": False,
}


def peft(name, **changes):
    config = dict(PEFT_BASE)
    for k, v in changes.items():
        if v is ...:
            config.pop(k, None)
        else:
            config[k] = v
    write("peft-config", name, (json.dumps(config, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode())


def peft_seeds():
    peft("gemma-2b")
    peft("gemma-rank-pattern", rank_pattern={"model.layers.0.self_attn.q_proj": 16, "down_proj": 4,
                                             r"layers\.(0|1)\..*q_proj": 12, ".*mlp.*": 6},
         alpha_pattern={"down_proj": 8, r"layers\.1[0-9]\.self_attn\..*": 32.5})
    peft("gemma-rslora", use_rslora=True, r=64, lora_alpha=128, rank_pattern={"o_proj": 32})
    peft("paligemma", base_model_name_or_path="google/paligemma-3b-pt-224",
         target_modules=r".*language_model.*\.(q_proj|k_proj|v_proj|o_proj)", r=16, lora_alpha=32,
         modules_to_save=["multi_modal_projector"])
    peft("siglip", base_model_name_or_path="google/siglip-base-patch16-224", task_type=None,
         target_modules=["q_proj", "v_proj", "fc1", "fc2", "out_proj"], r=4, lora_alpha=4,
         rank_pattern={r"vision_model\.encoder\.layers\.(1[0-1])\..*": 2}, alpha_pattern={"fc1": 2})
    peft("t5-seq2seq", base_model_name_or_path="google-t5/t5-base", task_type="SEQ_2_SEQ_LM",
         target_modules=["q", "v"], r=8, lora_alpha=32, lora_dropout=0.1,
         rank_pattern={"encoder.block.0.layer.0.SelfAttention.q": 4, r"decoder\.block\.\d+\.layer\.1\..*": 2})
    peft("modules-to-save", modules_to_save=["lm_head", "embed_tokens"], target_modules="all-linear")
    peft("minimal-old-peft", **{k: ... for k in PEFT_BASE if k not in ("r", "lora_alpha", "peft_type", "target_modules")})
    peft("float-alpha", lora_alpha=8.5, alpha_pattern={"q_proj": 0.25, "v_proj": 1e-3})
    peft("lowercase-lora", peft_type="lora", r=1, lora_alpha=1)
    peft("layers-to-transform", layers_to_transform=[0, 1, 2], layers_pattern="layers", layer_replication=[[0, 4], [2, 6]])
    peft("loftq-megatron", loftq_config={"loftq_bits": 4, "loftq_iter": 1}, megatron_config={"num_layers": 2},
         init_lora_weights="gaussian", revision="main", auto_mapping={"base_model_class": "GemmaForCausalLM"})
    peft("rank-pattern-regex-only", rank_pattern={r"model\.layers\.[0-9]+\.mlp\.(up|gate)_proj": 2,
                                                  r"(?:.*\.)?v_proj": 3, r"[a-z_]+\.o_proj": 5})
    peft("unicode-and-nulls", base_model_name_or_path="モデル/ü", lora_dropout=None, bias="lora_only",
         target_modules=["q_proj", "módel.layé.0.q_proj"], rank_pattern={"layé.0.q_proj": 2})
    # Refused configs.
    peft("bad-dora", use_dora=True)
    peft("bad-ia3", peft_type="IA3")
    peft("bad-rank-zero", r=0)
    peft("bad-fractional-rank", r=8.5)
    peft("bad-pattern-value", rank_pattern={"q_proj": 0})
    peft("bad-alpha-string", lora_alpha="16")
    peft("bad-missing-r", r=...)
    write("peft-config", "bad-not-object", b'[{"r": 8}]\n')


# ---------------------------------------------------------------------------------------------------
# multipart: bodies as curl -F sends them, behind the harness's one-byte prefix (see MultipartFuzz.swift)

CURL_BOUNDARY = "------------------------d74496d66958873e"


def small_weights():
    return save({"base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight": values((2, 8)),
                 "base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight": values((8, 2))},
                metadata={"format": "pt"})


def curl_body(parts, boundary=CURL_BOUNDARY, preamble=b"", epilogue=b""):
    """parts: (name, filename or None, content type or None, bytes), as curl -F writes each."""
    body = preamble
    for name, filename, ctype, data in parts:
        body += f"--{boundary}\r\n".encode()
        disposition = f'Content-Disposition: form-data; name="{name}"'
        if filename is not None:
            disposition += f'; filename="{filename}"'
        body += disposition.encode() + b"\r\n"
        if ctype:
            body += f"Content-Type: {ctype}\r\n".encode()
        body += b"\r\n" + data + b"\r\n"
    return body + f"--{boundary}--\r\n".encode() + epilogue


def multipart_seeds():
    t = "multipart"
    config = json.dumps({"r": 2, "lora_alpha": 4, "peft_type": "LORA", "target_modules": ["q_proj"]}).encode()
    upload = [("adapter_config.json", "adapter_config.json", "application/json", config),
              ("adapter_model.safetensors", "adapter_model.safetensors", "application/octet-stream", small_weights())]
    # Prefix byte: bit 0 small limits, bits 1-2 boundary source (0 curl's, 1 "XyZ", 2 Content-Type line).
    write(t, "curl-peft-upload", b"\x00" + curl_body(upload))
    write(t, "curl-peft-upload-small-limits", b"\x01" + curl_body(upload))
    write(t, "curl-text-fields", b"\x00" + curl_body([("name", None, None, b"my-adapter"), ("rank", None, None, b"8")]))
    write(t, "xyz-preamble-epilogue-padding", b"\x02" + (
        b"preamble to ignore\r\n--XyZ\r\n"
        b"Content-Disposition: form-data; name=\"config\"; filename=\"adapter_config.json\"\r\n"
        b"Content-Type: application/json\r\n\r\n{\"r\": 8}\r\n"
        b"--XyZ \t \r\n"
        b"Content-Disposition: form-data; name=weights; filename=\"a\\\"b.safetensors\"\r\n\r\n"
        b"\r\n--Xy binary \r\n-- not a boundary\r\n--XyZ--\r\nepilogue"))
    write(t, "xyz-no-headers-empty-part", b"\x02--XyZ\r\n\r\nraw\r\n--XyZ\r\nContent-Disposition: form-data; name=\"e\"\r\n\r\n\r\n--XyZ--")
    write(t, "content-type-quoted-boundary", b"\x04multipart/form-data; charset=utf-8; boundary=\"a b:c=d\"\n"
          + curl_body(upload[:1], boundary="a b:c=d"))
    write(t, "content-type-token-boundary", b"\x05Multipart/Form-Data;BOUNDARY=----WebKitFormBoundary7MA4YWxkTrZu0gW\n"
          + curl_body(upload, boundary="----WebKitFormBoundary7MA4YWxkTrZu0gW"))
    write(t, "content-type-not-multipart", b"\x04application/json\n{}")
    write(t, "many-parts-small-limits", b"\x01" + curl_body([(f"f{i}", None, None, b"x" * i) for i in range(5)]))
    write(t, "truncated", b"\x00" + curl_body(upload)[:-40])
    write(t, "near-boundaries", b"\x00" + curl_body([("bin", "x.bin", "application/octet-stream",
                                                      b"\r\n--" + CURL_BOUNDARY[:-1].encode() + b"\r\n\r\r\n-\r\n--")]))
    # Limits exactly at their bound (every limit is tested at it and one past it), for the fuzzer to push over.
    write(t, "transport-padding-64", b"\x02--XyZ" + b" " * 64 + b"\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nx\r\n--XyZ--\r\n")
    head = b"Content-Disposition: form-data; name=\"c\"; x=\""
    head += b"y" * (64 - 2 - len(head) - 1) + b"\""   # with its CRLF, exactly the small limit of 64 bytes
    write(t, "part-headers-64-small-limits", b"\x03--XyZ\r\n" + head + b"\r\n\r\n{}\r\n--XyZ--\r\n")
    write(t, "bad-header-line", b"\x02--XyZ\r\nno colon here\r\n\r\ndata\r\n--XyZ--")


# ---------------------------------------------------------------------------------------------------
# tar: archives from tarfile, as `tar -C dir -cf - .` and friends write them

PEFT_CONFIG = json.dumps({"r": 2, "lora_alpha": 4, "peft_type": "LORA", "target_modules": ["q_proj"]}).encode()


def tar_bytes(entries, fmt=tarfile.PAX_FORMAT, pax_headers=None, trim=True):
    """entries: (name, bytes or None for a directory, type, linkname, pax headers)."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=fmt, pax_headers=pax_headers or {}) as tar:
        for name, data, kind, link, pax in entries:
            info = tarfile.TarInfo(name)
            info.mtime = 1700000000
            info.uname = info.gname = "user"
            if pax:
                info.pax_headers = pax
            if kind == "dir":
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
                tar.addfile(info)
            elif kind in ("sym", "link"):
                info.type = tarfile.SYMTYPE if kind == "sym" else tarfile.LNKTYPE
                info.linkname = link
                tar.addfile(info)
            elif kind == "fifo":
                info.type = tarfile.FIFOTYPE
                tar.addfile(info)
            else:
                info.size = len(data)
                info.mode = 0o644
                tar.addfile(info, io.BytesIO(data))
    data = out.getvalue()
    if trim:
        # tarfile pads to a 10240-byte record; keep the data and the two zero blocks only.
        end = len(data)
        while end >= 1024 and data[end - 1024:end] == bytes(1024) and data[end - 1536:end - 1024] == bytes(512):
            end -= 512
        data = data[:end]
    return data


def f(name, data, pax=None):
    return (name, data, "file", None, pax)


def checksum(header):
    header = bytearray(header)
    header[148:156] = b" " * 8
    header[148:156] = b"%06o\0 " % sum(header)
    return bytes(header)


def base256_header(name, size, typeflag=b"0"):
    """A GNU header whose size field is base-256 (0x80, then the size in 11 big-endian bytes), as GNU tar
    and tarfile write sizes of 8 GiB and more. Written by hand: no seed can hold 8 GiB of data."""
    h = bytearray(512)
    h[0:len(name)] = name.encode()
    h[100:108] = b"0000644\0"
    h[108:116] = b"0001750\0"
    h[116:124] = b"0001750\0"
    h[124:136] = b"\x80" + size.to_bytes(11, "big")
    h[136:148] = b"14544135400\0"
    h[156:157] = typeflag
    h[257:265] = b"ustar  \0"
    return checksum(h)


def tar_seeds():
    t = "tar"
    weights = small_weights()
    peft_dir = [("./", None, "dir", None, None), f("./README.md", b"# adapter\n"),
                f("./adapter_config.json", PEFT_CONFIG), f("./adapter_model.safetensors", weights)]
    write(t, "ustar-peft-dir", tar_bytes(peft_dir, tarfile.USTAR_FORMAT))
    write(t, "ustar-peft-dir-full-record", tar_bytes(peft_dir, tarfile.USTAR_FORMAT, trim=False))
    long_dir = "checkpoints/" + "very-long-directory-name-" * 5 + "step-1000/"
    write(t, "pax-long-names-size-record", tar_bytes([
        f(long_dir + "adapter_config.json", PEFT_CONFIG),
        f(long_dir + "adapter_model.safetensors", weights, pax={"size": str(len(weights)), "comment": "pax size"}),
        f("ünïcödé/adapter_config.json", PEFT_CONFIG, pax={"mtime": "1700000000.123456789"})]))
    write(t, "pax-global-header", tar_bytes([f("adapter_config.json", PEFT_CONFIG)],
                                            pax_headers={"comment": "global", "uname": "builder"}))
    write(t, "gnu-long-name-and-link", tar_bytes([
        f(long_dir + "adapter_model.safetensors", weights),
        ("link-to-weights", None, "sym", long_dir + "adapter_model.safetensors", None)], tarfile.GNU_FORMAT))
    write(t, "ustar-links-and-fifo", tar_bytes([
        f("adapter_config.json", PEFT_CONFIG), ("config-link", None, "link", "adapter_config.json", None),
        ("config-sym", None, "sym", "adapter_config.json", None), ("pipe", None, "fifo", None, None)], tarfile.USTAR_FORMAT))
    write(t, "ustar-sizes-0-511-512-513", tar_bytes([f(f"f{n}", bytes([n % 251]) * n) for n in (0, 1, 511, 512, 513)],
                                                    tarfile.USTAR_FORMAT))
    write(t, "unsafe-paths", tar_bytes([f("../evil", b"x"), f("/etc/passwd", b"y")], tarfile.GNU_FORMAT))
    write(t, "empty-archive", bytes(1024))
    write(t, "no-end-marker", tar_bytes([f("adapter_config.json", PEFT_CONFIG)], tarfile.USTAR_FORMAT)[:-1024])
    write(t, "truncated-inside-entry", tar_bytes([f("adapter_model.safetensors", weights)], tarfile.USTAR_FORMAT)[:700])
    damaged = bytearray(tar_bytes([f("adapter_config.json", PEFT_CONFIG)], tarfile.USTAR_FORMAT))
    damaged[5] ^= 0x20
    write(t, "bad-checksum", bytes(damaged))
    # GNU base-256 sizes, by hand: an 8 GiB entry of which the seed holds 1 KiB (the reader must report
    # truncation at the end), and a small base-256 size followed by its data and the end marker.
    write(t, "gnu-base256-8gib-truncated", base256_header("big.safetensors", 1 << 33) + bytes(range(256)) * 4)
    write(t, "gnu-base256-small", base256_header("adapter_config.json", len(PEFT_CONFIG)) + PEFT_CONFIG
          + bytes(512 - len(PEFT_CONFIG) % 512) + bytes(1024))
    # Hostile archives that once trapped the reader (Tests/AdapterFormatsTests/TarHostileTests.swift):
    # kept as seeds so a regression is found at once. A pax size of Int.max via tarfile's own pax
    # writer; by hand, a pax record whose length (2) is shorter than its own framing, and a GNU
    # base-256 size of Int.max.
    write(t, "hostile-pax-size-int-max", tar_bytes([f("adapter_model.safetensors", b"tiny",
                                                      pax={"size": "9223372036854775807"})]))
    record = b"2 size=5\n"
    pax = bytearray(base256_header("PaxHeaders/x", 0, typeflag=b"x"))
    pax[124:136] = b"%011o\0" % len(record)
    write(t, "hostile-pax-record-length-2", checksum(pax) + record + bytes(512 - len(record))
          + tar_bytes([f("f", b"\1")], tarfile.USTAR_FORMAT))
    write(t, "hostile-gnu-base256-int-max", base256_header("adapter_model.safetensors", (1 << 63) - 1) + bytes(range(256)) * 8)
    write(t, "v7-no-magic", (lambda a: checksum(a[:257] + bytes(8) + a[265:512]) + a[512:])(
        tar_bytes([f("adapter_config.json", PEFT_CONFIG)], tarfile.USTAR_FORMAT)))


def model_directory_seeds():
    """The first byte picks the files (1 config.json, 2 the index, 4 a stray model.safetensors, 8 a
    pickle: see ModelDirectoryFuzz.swift); the rest is the index as transformers writes it."""
    t = "model-directory"
    good = {"metadata": {"total_size": 12}, "weight_map": {"x": "a.safetensors", "y": "a.safetensors", "z": "b.safetensors"}}
    write(t, "valid", bytes([3]) + json.dumps(good, indent=2).encode())
    write(t, "wrong-shard", bytes([3]) + json.dumps({"weight_map": {"x": "b.safetensors", "y": "a.safetensors", "z": "b.safetensors"}}).encode())
    write(t, "missing-shard", bytes([3]) + json.dumps({"weight_map": {"x": "c.safetensors"}}).encode())
    write(t, "no-index", bytes([1]))
    write(t, "dup-key", bytes([3]) + b'{"weight_map":{"x":"a.safetensors","x":"a.safetensors"}}')
    write(t, "stray-and-pickle", bytes([15]) + json.dumps(good).encode())


def main():
    for target in TARGETS:
        path = os.path.join(CORPUS, target)
        shutil.rmtree(path, ignore_errors=True)
        os.makedirs(path)
    safetensors_seeds()
    kohya_seeds()
    peft_seeds()
    multipart_seeds()
    tar_seeds()
    model_directory_seeds()
    for target in TARGETS:
        names = os.listdir(os.path.join(CORPUS, target))
        size = sum(os.path.getsize(os.path.join(CORPUS, target, n)) for n in names)
        print(f"{target}: {len(names)} seeds, {size} bytes")


if __name__ == "__main__":
    main()
