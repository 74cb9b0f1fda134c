import AdapterFormats
import Foundation

/// Explicit-tensor writers for adapters the regular builders cannot produce (broken, partial or
/// unusual ones), and reference arithmetic shared by the test targets.
extension AdapterFixture {
    /// The config `makePEFT` writes, as fields, for tests that assemble their own tensors.
    public static func peftConfig(rank: Int, alpha: Double, targetModules: [String] = ["q_proj"]) -> [String: JSONValue] {
        [
            "peft_type": .string("LORA"), "task_type": .string("CAUSAL_LM"),
            "base_model_name_or_path": .string("fixture/model"),
            "r": .number(Double(rank)), "lora_alpha": .number(alpha), "lora_dropout": .number(0),
            "bias": .string("none"), "target_modules": .array(targetModules.map { .string($0) }),
            "rank_pattern": .object([:]), "alpha_pattern": .object([:]),
            "use_rslora": .bool(false), "use_dora": .bool(false), "fan_in_fan_out": .bool(false),
            "modules_to_save": .null, "inference_mode": .bool(true),
        ]
    }

    /// Writes a PEFT directory holding exactly `tensors` and `config`. Returns the directory.
    @discardableResult
    public static func writePEFT(at dir: URL, tensors: [TensorToWrite], config: [String: JSONValue]) throws -> URL {
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try SafetensorsWriter.write(tensors, metadata: ["format": "pt"], to: dir.appendingPathComponent(PEFTFiles.weights))
        try JSONValue.object(config).encodedPretty().write(to: dir.appendingPathComponent(PEFTFiles.config))
        return dir
    }

    /// The two factor tensors of a fixture module, named the way `makePEFT` names them, in `dtype`.
    public static func peftFactors(_ m: Module, seed: UInt64, dtype: DType = .f32,
                                   tensorSuffix: String = "") throws -> [TensorToWrite] {
        let (a, b) = LoRAFactorsFixture.make(out: m.out, in: m.inFeatures, rank: m.rank, seed: seed)
        let key = LoRAAdapter.peftPrefix + m.name
        return [try .floats(a, name: key + ".lora_A" + tensorSuffix + ".weight", shape: [m.rank, m.inFeatures], dtype: dtype),
                try .floats(b, name: key + ".lora_B" + tensorSuffix + ".weight", shape: [m.out, m.rank], dtype: dtype)]
    }
}

/// Plain-loop arithmetic in Double, independent of BLAS and of the engine, for expectations.
public enum ReferenceMath {
    /// `scale · B · A` for B out×r and A r×in (row-major), by loops.
    public static func product(b: [Double], a: [Double], out: Int, rank r: Int, in inF: Int, scale: Double = 1) -> [Double] {
        precondition(b.count == out * r && a.count == r * inF, "factor sizes do not match out=\(out) r=\(r) in=\(inF)")
        var d = [Double](repeating: 0, count: out * inF)
        for i in 0..<out {
            for k in 0..<r {
                let bik = b[i * r + k] * scale
                if bik == 0 { continue }
                for j in 0..<inF { d[i * inF + j] += bik * a[k * inF + j] }
            }
        }
        return d
    }

    /// The Frobenius norm of `x`, or of `x − y` when `y` is given.
    public static func frobenius(_ x: [Double], minus y: [Double]? = nil) -> Double {
        var sum = 0.0
        for i in x.indices {
            let v = x[i] - (y?[i] ?? 0)
            sum += v * v
        }
        return sum.squareRoot()
    }

    /// `x` rounded to `dtype` and back: F32 as is, F16 through the platform's `Float16`, BF16 by
    /// round-to-nearest-even on the bit pattern (written out here, not taken from AdapterFormats).
    public static func rounded(_ x: Float, to dtype: DType) -> Float {
        switch dtype {
        case .f16:
            return Float(Float16(x))
        case .bf16:
            let bits = x.bitPattern
            let lsb = (bits >> 16) & 1
            return Float(bitPattern: (bits &+ 0x7FFF &+ lsb) & 0xFFFF_0000)
        default:
            return x
        }
    }
}
