/// A dense row-major matrix: element (i, j) lives at `storage[i * columns + j]`.
///
/// Row-major matches safetensors (PyTorch's contiguous layout), so a tensor's bytes become a
/// matrix without a transpose, and every BLAS/LAPACK call here passes `CblasRowMajor`/`LAPACK_ROW_MAJOR`.
public struct Matrix<Scalar: BinaryFloatingPoint & Sendable>: Sendable, Equatable {
    public let rows: Int
    public let columns: Int
    public var storage: [Scalar]

    /// A matrix over existing values; `storage.count` must be `rows * columns`.
    public init(rows: Int, columns: Int, storage: [Scalar]) throws(LinearAlgebraError) {
        guard rows >= 0, columns >= 0 else {
            throw .shapeMismatch(operation: "Matrix", detail: "negative shape [\(rows), \(columns)]")
        }
        let (count, overflow) = rows.multipliedReportingOverflow(by: columns)
        guard !overflow, count == storage.count else {
            throw .shapeMismatch(operation: "Matrix",
                                 detail: "shape [\(rows), \(columns)] needs \(rows &* columns) values, got \(storage.count)")
        }
        self.rows = rows
        self.columns = columns
        self.storage = storage
    }

    /// A zero matrix.
    public init(zeros rows: Int, _ columns: Int) {
        precondition(rows >= 0 && columns >= 0, "Matrix(zeros:) with a negative shape")
        self.rows = rows
        self.columns = columns
        self.storage = [Scalar](repeating: 0, count: rows * columns)
    }

    public subscript(row: Int, column: Int) -> Scalar {
        get { storage[row * columns + column] }
        set { storage[row * columns + column] = newValue }
    }

    public var shape: [Int] { [rows, columns] }

    /// The transpose, as a new row-major matrix.
    public var transposed: Matrix {
        var out = Matrix(zeros: columns, rows)
        storage.withUnsafeBufferPointer { src in
            out.storage.withUnsafeMutableBufferPointer { dst in
                for i in 0..<rows {
                    for j in 0..<columns { dst[j * rows + i] = src[i * columns + j] }
                }
            }
        }
        return out
    }

    /// The first `count` columns.
    public func leadingColumns(_ count: Int) -> Matrix {
        precondition(count >= 0 && count <= columns)
        var out = Matrix(zeros: rows, count)
        for i in 0..<rows {
            for j in 0..<count { out.storage[i * count + j] = storage[i * columns + j] }
        }
        return out
    }

    /// The first `count` rows.
    public func leadingRows(_ count: Int) -> Matrix {
        precondition(count >= 0 && count <= rows)
        return Matrix(unchecked: count, columns, Array(storage[0..<(count * columns)]))
    }

    /// Widens or narrows every element to another floating-point type.
    public func converted<Other>(to: Other.Type = Other.self) -> Matrix<Other> {
        Matrix<Other>(unchecked: rows, columns, storage.map { Other($0) })
    }

    /// Whether every element is finite (no NaN, no ±Inf).
    public var isFinite: Bool { storage.allSatisfy { $0.isFinite } }

    /// The sum of squares of the elements, accumulated in Double.
    public var squaredFrobeniusNorm: Double {
        storage.reduce(0.0) { $0 + Double($1) * Double($1) }
    }

    init(unchecked rows: Int, _ columns: Int, _ storage: [Scalar]) {
        self.rows = rows
        self.columns = columns
        self.storage = storage
    }
}
