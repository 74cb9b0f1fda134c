/// Module lists named like the paper's model families, at sizes small enough for CI.
/// Names follow Hugging Face transformers (PaliGemma/Gemma 3: `model.language_model.…`,
/// `model.vision_tower.vision_model.…`, `model.multi_modal_projector.linear`; T5: `SelfAttention.q`,
/// `EncDecAttention`, `DenseReluDense.wi_0`).
public enum ModelFamilies {
    /// Gemma LM + SigLIP vision tower + multi-modal projector (PaliGemma), hidden sizes scaled down.
    public static func paligemma(layers: Int = 2, rank: Int) -> [AdapterFixture.Module] {
        var m: [AdapterFixture.Module] = []
        for i in 0..<layers {
            let p = "model.language_model.layers.\(i)."
            m += [.init(p + "self_attn.q_proj", out: 64, in: 64, rank: rank),
                  .init(p + "self_attn.k_proj", out: 8, in: 64, rank: rank),
                  .init(p + "self_attn.v_proj", out: 8, in: 64, rank: rank),
                  .init(p + "self_attn.o_proj", out: 64, in: 64, rank: rank),
                  .init(p + "mlp.gate_proj", out: 128, in: 64, rank: rank),
                  .init(p + "mlp.up_proj", out: 128, in: 64, rank: rank),
                  .init(p + "mlp.down_proj", out: 64, in: 128, rank: rank)]
        }
        for i in 0..<layers {
            let p = "model.vision_tower.vision_model.encoder.layers.\(i)."
            m += [.init(p + "self_attn.q_proj", out: 36, in: 36, rank: rank),
                  .init(p + "self_attn.k_proj", out: 36, in: 36, rank: rank),
                  .init(p + "self_attn.v_proj", out: 36, in: 36, rank: rank),
                  .init(p + "self_attn.out_proj", out: 36, in: 36, rank: rank),
                  .init(p + "mlp.fc1", out: 134, in: 36, rank: rank),
                  .init(p + "mlp.fc2", out: 36, in: 134, rank: rank)]
        }
        m.append(.init("model.multi_modal_projector.linear", out: 64, in: 36, rank: rank))
        return m
    }

    /// Gemma 3 language model (GQA: q wider than k/v), hidden sizes scaled down.
    public static func gemma3(layers: Int = 2, rank: Int) -> [AdapterFixture.Module] {
        (0..<layers).flatMap { i -> [AdapterFixture.Module] in
            let p = "model.language_model.layers.\(i)."
            return [.init(p + "self_attn.q_proj", out: 64, in: 80, rank: rank),
                    .init(p + "self_attn.k_proj", out: 32, in: 80, rank: rank),
                    .init(p + "self_attn.v_proj", out: 32, in: 80, rank: rank),
                    .init(p + "self_attn.o_proj", out: 80, in: 64, rank: rank),
                    .init(p + "mlp.gate_proj", out: 160, in: 80, rank: rank),
                    .init(p + "mlp.up_proj", out: 160, in: 80, rank: rank),
                    .init(p + "mlp.down_proj", out: 80, in: 160, rank: rank)]
        }
    }

    /// A PaLI / mT5-style encoder–decoder with T5 module names.
    public static func mt5(layers: Int = 1, rank: Int) -> [AdapterFixture.Module] {
        var m: [AdapterFixture.Module] = []
        for i in 0..<layers {
            let e = "encoder.block.\(i)."
            m += ["q", "k", "v", "o"].map { .init(e + "layer.0.SelfAttention.\($0)", out: 48, in: 48, rank: rank) }
            m += [.init(e + "layer.1.DenseReluDense.wi_0", out: 96, in: 48, rank: rank),
                  .init(e + "layer.1.DenseReluDense.wi_1", out: 96, in: 48, rank: rank),
                  .init(e + "layer.1.DenseReluDense.wo", out: 48, in: 96, rank: rank)]
            let d = "decoder.block.\(i)."
            m += ["q", "k", "v", "o"].map { .init(d + "layer.0.SelfAttention.\($0)", out: 48, in: 48, rank: rank) }
            m += ["q", "k", "v", "o"].map { .init(d + "layer.1.EncDecAttention.\($0)", out: 48, in: 48, rank: rank) }
            m += [.init(d + "layer.2.DenseReluDense.wi_0", out: 96, in: 48, rank: rank),
                  .init(d + "layer.2.DenseReluDense.wo", out: 48, in: 96, rank: rank)]
        }
        m.append(.init("shared", out: 48, in: 100, rank: rank, embedding: true))
        return m
    }
}
