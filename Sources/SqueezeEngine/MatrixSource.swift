import AdapterFormats

/// A matrix the engine reads block by block, widened to Double on the way. The squeeze streams a
/// factor through cache-sized panels twice (Gram, then projection) instead of holding a double copy.
public protocol MatrixSource: Sendable {
    var rows: Int { get }
    var columns: Int { get }
    /// Writes the block `rows`×`columns` into `buffer` (row-major, `columns.count` wide) and returns the
    /// flat index, in the whole matrix, of the first NaN or ±Inf in the block, if any.
    func read(rows: Range<Int>, columns: Range<Int>, into buffer: UnsafeMutablePointer<Double>) -> Int?
}

extension MatrixSource {
    /// The whole matrix in double precision, refusing non-finite values (`factor` names it in the error).
    func materialized(factor: String) throws(SqueezeError) -> Matrix<Double> {
        var m = Matrix<Double>(zeros: rows, columns)
        let bad = m.storage.withUnsafeMutableBufferPointer { read(rows: 0..<rows, columns: 0..<columns, into: $0.baseAddress!) }
        if let i = bad { throw .nonFinite(factor: factor, index: i) }
        return m
    }
}

extension Matrix: MatrixSource {
    public func read(rows r: Range<Int>, columns c: Range<Int>, into buffer: UnsafeMutablePointer<Double>) -> Int? {
        var bad: Int?
        storage.withUnsafeBufferPointer { src in
            var k = 0
            for i in r {
                for j in c {
                    let v = Double(src[i * columns + j])
                    if bad == nil && !v.isFinite { bad = i * columns + j }
                    buffer[k] = v
                    k += 1
                }
            }
        }
        return bad
    }
}

/// A 2-D view of a float tensor in a (memory-mapped) safetensors file: a 4-D conv kernel
/// [r, in, kh, kw] reads as r×(in·kh·kw). Decoding happens on read, panel by panel.
public struct TensorMatrix: MatrixSource {
    public let file: SafetensorsFile
    public let entry: TensorEntry
    public let rows: Int
    public let columns: Int

    public init(file: SafetensorsFile, entry: TensorEntry, rows: Int, columns: Int) {
        precondition(rows * columns == entry.elementCount && entry.dtype.isFloatReadable,
                     "tensor \(entry.name) is not a \(rows)×\(columns) float matrix")
        self.file = file
        self.entry = entry
        self.rows = rows
        self.columns = columns
    }

    public func read(rows r: Range<Int>, columns c: Range<Int>, into buffer: UnsafeMutablePointer<Double>) -> Int? {
        if c.count == columns {
            return file.decode(entry, elements: (r.lowerBound * columns)..<(r.upperBound * columns), into: buffer)
        }
        var bad: Int?
        for (k, i) in r.enumerated() {
            let start = i * columns + c.lowerBound
            let b = file.decode(entry, elements: start..<(start + c.count), into: buffer + k * c.count)
            if bad == nil { bad = b }
        }
        return bad
    }
}
