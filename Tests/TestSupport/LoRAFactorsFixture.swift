import Foundation

/// Random LoRA factors shaped like trained ones: rows of A decay geometrically, so the update has
/// a decaying spectrum (what make_adapter.py does too). A is r×in, B is out×r, row-major.
public enum LoRAFactorsFixture {
    public static func make(out: Int, in inF: Int, rank r: Int, decay: Float = 4, seed: UInt64)
        -> (a: [Float], b: [Float]) {
        var rng = SeededRandom(seed: seed)
        var a = rng.normals(r * inF, scale: 1 / Float(inF).squareRoot())
        for i in 0..<r {
            let s = Float(exp(-Double(i) / Double(max(decay, 1e-6))))
            for j in 0..<inF { a[i * inF + j] *= s }
        }
        let b = rng.normals(out * r, scale: 0.02)
        return (a, b)
    }
}
