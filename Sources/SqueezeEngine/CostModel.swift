/// Flop estimates that `auto` compares. They count the dominant BLAS/LAPACK work only;
/// what matters is which side is smaller, not the exact figure.
public enum CostModel {
    /// Exact factored SVD: two Gram matrices ((out+in)·r² multiply-adds) and the two projections.
    public static func exact(out: Int, in inF: Int, rank r: Int, target t: Int) -> Double {
        let edge = Double(out + inF)
        return 2 * edge * Double(r * r) / 2 + 2 * edge * Double(r * t)
    }

    /// Randomized SVD on the factored operator: 2q+2 operator products through the r-wide waist,
    /// a Householder QR of the sketch after each, and the projected SVD.
    public static func rsvd(out: Int, in inF: Int, rank r: Int, sketch l: Int, powerIterations q: Int) -> Double {
        let edge = Double(out + inF)
        let products = Double(2 * q + 2) * 2 * edge * Double(r * l)
        let qr = Double(2 * q + 1) * 4 * Double(max(out, inF)) * Double(l * l)
        let small = 4 * Double(inF) * Double(l * l)
        return products + qr + small
    }

    /// Exact SVD of a dense m×n update (gesdd, thin).
    public static func denseExact(rows m: Int, columns n: Int) -> Double {
        let k = Double(min(m, n)), big = Double(max(m, n))
        return 4 * big * k * k + 8 * k * k * k
    }

    /// Randomized SVD of a dense m×n update.
    public static func denseRSVD(rows m: Int, columns n: Int, sketch l: Int, powerIterations q: Int) -> Double {
        let products = Double(2 * q + 2) * 2 * Double(m) * Double(n) * Double(l)
        let qr = Double(2 * q + 1) * 4 * Double(max(m, n)) * Double(l * l)
        return products + qr + 4 * Double(n) * Double(l * l)
    }
}
