import Foundation

/// A dense, typed, n-dimensional array: Flower's `Array`.
///
/// A tensor is a dtype, a shape and the elements' bytes in row-major (C) order and little-endian byte order, held
/// in one contiguous, 64-byte-aligned buffer. Copies share the buffer until one is written (copy-on-write), so a
/// model broadcast to a thousand virtual nodes is held once. A tensor decoded from a message's chunks is held as
/// those chunks until something asks for all its bytes at once (`withUnsafePieces` reads it without that copy).
public struct Tensor: Sendable, Equatable, CustomStringConvertible {
    /// The element type.
    public let dtype: DType
    /// The extent of each dimension; `[]` is a scalar.
    public let shape: [Int]
    private var storage: TensorStorage

    /// The number of elements: the product of `shape`.
    public var count: Int { shape.reduce(1, *) }
    /// The number of bytes: `count * dtype.byteWidth`.
    public var byteCount: Int { storage.byteCount }

    /// A tensor of zeros.
    public init(zeros dtype: DType, shape: [Int]) throws {
        let byteCount = try Tensor.byteCount(dtype: dtype, shape: shape)
        self.dtype = dtype
        self.shape = shape
        storage = TensorStorage(zeroedByteCount: byteCount)
    }

    /// A tensor holding a copy of `bytes`, which must be exactly `count * dtype.byteWidth` long.
    ///
    /// - Throws: `CoreError.invalidTensor` when a dimension is negative or the byte count does not match.
    public init(dtype: DType, shape: [Int], bytes: UnsafeRawBufferPointer) throws {
        let byteCount = try Tensor.byteCount(dtype: dtype, shape: shape)
        guard bytes.count == byteCount else {
            throw CoreError(
                code: .invalidTensor,
                message: "a \(dtype) tensor of shape \(shape) needs \(byteCount) bytes, got \(bytes.count)"
            )
        }
        self.dtype = dtype
        self.shape = shape
        storage = TensorStorage(copying: bytes)
    }

    /// A tensor whose bytes `fill` writes, every one of them, into the new storage (one write, no zeroing first).
    ///
    /// - Throws: `CoreError.invalidTensor` when a dimension is negative, or what `fill` throws.
    public init(dtype: DType, shape: [Int], filling fill: (UnsafeMutableRawBufferPointer) throws -> Void) throws {
        let byteCount = try Tensor.byteCount(dtype: dtype, shape: shape)
        self.dtype = dtype
        self.shape = shape
        storage = try TensorStorage(byteCount: byteCount, fill: fill)
    }

    /// A tensor viewing the bytes of `file` from `offset`, without copying them (writes make a private copy).
    ///
    /// - Throws: `CoreError.invalidTensor` when the bytes run past the end of `file` or `offset` is not 64-byte
    ///   aligned.
    package init(dtype: DType, shape: [Int], viewing file: FileMapping, offset: Int) throws {
        let byteCount = try Tensor.byteCount(dtype: dtype, shape: shape)
        guard offset >= 0, offset % TensorStorage.alignment == 0, byteCount <= file.count - offset else {
            throw CoreError(
                code: .invalidTensor,
                message: "a \(dtype) tensor of shape \(shape) at offset \(offset) does not fit in a mapping of \(file.count) bytes, 64-byte aligned"
            )
        }
        self.dtype = dtype
        self.shape = shape
        storage = TensorStorage(viewing: file.start + offset, byteCount: byteCount, owner: file)
    }

    /// Splits this tensor's elements into tensors of `shapes`, each starting at its element offset in `offsets`,
    /// without copying: the parts share these bytes, which no one else may then reach (this tensor is consumed,
    /// and copies of it must be gone for the split to be copy-free; otherwise the bytes are copied first).
    ///
    /// - Throws: `CoreError.invalidTensor` when a part runs past the end, parts overlap or a part does not start
    ///   64-byte aligned.
    package consuming func split(shapes: [[Int]], offsets: [Int]) throws -> [Tensor] {
        precondition(shapes.count == offsets.count, "one offset per shape")
        if !isKnownUniquelyReferenced(&storage) { storage = TensorStorage(copying: storage) }
        let owner = storage
        // The parts are written through views; the owner cannot tell when.
        owner.willWrite()
        var end = 0
        return try zip(shapes, offsets).map { shape, offset in
            let byteCount = try Tensor.byteCount(dtype: dtype, shape: shape)
            let start = offset * dtype.byteWidth
            guard offset >= 0, start >= end, start % TensorStorage.alignment == 0, byteCount <= owner.byteCount - start else {
                throw CoreError(code: .invalidTensor, message: "part \(shape) at element \(offset) does not fit, aligned and apart, in \(self.shape)")
            }
            end = start + byteCount
            return Tensor(dtype: dtype, shape: shape, storage: TensorStorage(viewing: owner.bytes + start, byteCount: byteCount, owner: owner))
        }
    }

    /// A tensor whose bytes are `pieces`, in order, without copying them: they are copied into one buffer only
    /// when something asks for all the bytes at once.
    ///
    /// - Throws: `CoreError.invalidTensor` when the pieces do not add up to the tensor's bytes or a piece does not
    ///   hold whole elements.
    package init(dtype: DType, shape: [Int], pieces: TensorPieces) throws {
        let byteCount = try Tensor.byteCount(dtype: dtype, shape: shape)
        guard pieces.byteCount == byteCount else {
            throw CoreError(code: .invalidTensor, message: "a \(dtype) tensor of shape \(shape) needs \(byteCount) bytes, its pieces hold \(pieces.byteCount)")
        }
        guard pieces.withPieces({ $0.allSatisfy { $0.count % dtype.byteWidth == 0 } }) else {
            throw CoreError(code: .invalidTensor, message: "a piece of a \(dtype) tensor of shape \(shape) splits an element")
        }
        self.init(dtype: dtype, shape: shape, storage: TensorStorage(pieces: pieces))
    }

    private init(dtype: DType, shape: [Int], storage: TensorStorage) {
        self.dtype = dtype
        self.shape = shape
        self.storage = storage
    }

    /// A tensor holding a copy of `bytes`.
    public init(dtype: DType, shape: [Int], bytes: [UInt8]) throws {
        self = try bytes.withUnsafeBytes { try Tensor(dtype: dtype, shape: shape, bytes: $0) }
    }

    /// A tensor holding `scalars` in row-major order; `shape` defaults to one dimension.
    ///
    /// - Throws: `CoreError.invalidTensor` when `shape` does not hold exactly `scalars.count` elements.
    public init<Element: TensorElement>(_ scalars: [Element], shape: [Int]? = nil) throws {
        let shape = shape ?? [scalars.count]
        let count = try Tensor.elementCount(of: shape)
        guard count == scalars.count else {
            throw CoreError(
                code: .invalidTensor,
                message: "shape \(shape) holds \(count) elements, but \(scalars.count) were given"
            )
        }
        self = try scalars.withUnsafeBytes { try Tensor(dtype: Element.dtype, shape: shape, bytes: $0) }
    }

    /// Calls `body` with the raw bytes.
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(storage.buffer)
    }

    /// Whether the bytes are still held as the pieces they arrived in (`withUnsafePieces` reads them without a copy;
    /// the other accessors copy them into one buffer first, once).
    public var isHeldInPieces: Bool { storage.pieces?.isAssembled == false }

    /// Calls `body` with the bytes in order, as one or more pieces that each hold whole elements: a tensor held in
    /// pieces is read where its pieces are, without copying them into one buffer.
    public func withUnsafePieces<R>(_ body: ([UnsafeRawBufferPointer]) throws -> R) rethrows -> R {
        guard let pieces = storage.pieces else { return try body([storage.buffer]) }
        return try pieces.withPieces(body)
    }

    /// Copies the bytes in `range` (byte offsets) to `destination`, from the pieces when the tensor is held in pieces.
    public func copyBytes(in range: Range<Int>, to destination: UnsafeMutableRawPointer) {
        precondition(range.lowerBound >= 0 && range.upperBound <= byteCount, "bytes \(range) of a tensor of \(byteCount)")
        storage.copyBytes(in: range, to: destination)
    }

    /// Calls `body` with the elements typed as `Element`.
    ///
    /// - Throws: `CoreError.invalidTensor` when `Element` is not this tensor's dtype.
    public func withUnsafeBufferPointer<Element: TensorElement, R>(
        as type: Element.Type, _ body: (UnsafeBufferPointer<Element>) throws -> R
    ) throws -> R {
        try checkElement(type)
        let typed = storage.bytes.assumingMemoryBound(to: Element.self)
        return try body(UnsafeBufferPointer(start: typed, count: count))
    }

    /// Calls `body` with the elements typed as `Element`, for writing; copies the bytes first if they are shared.
    ///
    /// - Throws: `CoreError.invalidTensor` when `Element` is not this tensor's dtype.
    public mutating func withUnsafeMutableBufferPointer<Element: TensorElement, R>(
        as type: Element.Type, _ body: (UnsafeMutableBufferPointer<Element>) throws -> R
    ) throws -> R {
        try checkElement(type)
        if !isKnownUniquelyReferenced(&storage) {
            storage = TensorStorage(copying: storage)
        }
        storage.willWrite()
        let typed = storage.bytes.assumingMemoryBound(to: Element.self)
        return try body(UnsafeMutableBufferPointer(start: typed, count: count))
    }

    /// The elements as an array of `Element`.
    public func scalars<Element: TensorElement>(as type: Element.Type) throws -> [Element] {
        try withUnsafeBufferPointer(as: type) { Array($0) }
    }

    public static func == (lhs: Tensor, rhs: Tensor) -> Bool {
        guard lhs.dtype == rhs.dtype, lhs.shape == rhs.shape else { return false }
        if lhs.storage === rhs.storage { return true }
        guard lhs.byteCount == rhs.byteCount else { return false }
        // Piece by piece, so that comparing tensors held in pieces copies nothing.
        return lhs.withUnsafePieces { left in rhs.withUnsafePieces { right in TensorPieces.sameBytes(left, right) } }
    }

    /// Whether the `count` bytes from byte offset `first` equal those from `second`; compared where they are, the
    /// pieces of a tensor held in pieces included.
    package func hasEqualBytes(at first: Int, _ second: Int, count: Int) -> Bool {
        precondition(first >= 0 && second >= 0 && count >= 0 && max(first, second) + count <= byteCount, "bytes past the end of a tensor of \(byteCount)")
        return withUnsafePieces { pieces in
            TensorPieces.sameBytes(TensorPieces.slice(pieces, first..<(first + count)), TensorPieces.slice(pieces, second..<(second + count)))
        }
    }

    public var description: String { "Tensor(\(dtype), shape: \(shape))" }

    private func checkElement<Element: TensorElement>(_ type: Element.Type) throws {
        guard Element.dtype == dtype else {
            throw CoreError(
                code: .invalidTensor,
                message: "this tensor holds \(dtype) elements; it cannot be read as \(Element.dtype)"
            )
        }
    }

    /// The bytes a tensor of `dtype` and `shape` holds, checked: a hostile shape cannot overflow the count.
    ///
    /// - Throws: `CoreError.invalidTensor` for a negative dimension or a size beyond what memory can hold.
    public static func byteCount(dtype: DType, shape: [Int]) throws -> Int {
        let (bytes, overflow) = try elementCount(of: shape).multipliedReportingOverflow(by: dtype.byteWidth)
        guard !overflow else {
            throw CoreError(code: .invalidTensor, message: "shape \(shape) holds more elements than memory can")
        }
        return bytes
    }

    private static func elementCount(of shape: [Int]) throws -> Int {
        var count = 1
        for extent in shape {
            guard extent >= 0 else {
                throw CoreError(code: .invalidTensor, message: "shape \(shape) has a negative dimension")
            }
            let (product, overflow) = count.multipliedReportingOverflow(by: extent)
            guard !overflow else {
                throw CoreError(code: .invalidTensor, message: "shape \(shape) holds more elements than memory can")
            }
            count = product
        }
        return count
    }
}
