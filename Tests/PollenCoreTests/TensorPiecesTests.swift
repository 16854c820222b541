@testable import PollenCore
import Testing

/// Test-owned pieces: copies of parts of a value list, each placed one byte past an aligned address, so that a
/// reader that assumed aligned pieces would misread them.
private final class MisalignedPieces: Sendable {
    nonisolated(unsafe) let buffers: [UnsafeMutableRawBufferPointer]

    init(_ values: [Float], cuts: [Int]) {
        let bounds = [0] + cuts + [values.count]
        buffers = zip(bounds, bounds.dropFirst()).map { start, end in
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: (end - start) * 4 + 1, alignment: 64)
            values[start..<end].withUnsafeBytes { UnsafeMutableRawBufferPointer(rebasing: buffer[1...]).copyMemory(from: $0) }
            return buffer
        }
    }

    deinit { buffers.forEach { $0.deallocate() } }

    var pieces: [UnsafeRawBufferPointer] { buffers.map { UnsafeRawBufferPointer(rebasing: $0[1...]) } }

    static func tensor(_ values: [Float], cuts: [Int]) throws -> Tensor {
        let owner = MisalignedPieces(values, cuts: cuts)
        return try Tensor(dtype: .float32, shape: [values.count], pieces: TensorPieces(owner.pieces, owner: owner))
    }
}

@Suite struct TensorPiecesTests {
    let values = (0..<1_000).map { Float($0) * 0.5 - 7 }

    /// A tensor held in pieces reads as the tensor they make, whichever accessor reads it.
    @Test func piecesReadAsTheWholeTensor() throws {
        let whole = try Tensor(values)
        let pieced = try MisalignedPieces.tensor(values, cuts: [1, 300, 301, 999])
        #expect(pieced.isHeldInPieces)
        #expect(pieced == whole && whole == pieced)
        #expect(pieced.withUnsafePieces { $0.map(\.count) } == [4, 1_196, 4, 2_792, 4])
        // Bytes 2..<1_210 span four pieces, starting and ending inside elements.
        var copied = [UInt8](repeating: 0, count: 1_208)
        copied.withUnsafeMutableBytes { pieced.copyBytes(in: 2..<1_210, to: $0.baseAddress!) }
        #expect(copied == whole.withUnsafeBytes { Array($0[2..<1_210]) })
        var different = values
        different[640] += 1
        #expect(try pieced != Tensor(different))
        // Reading every byte at once assembles them, once; the pieces are then read as that one buffer.
        #expect(try pieced.scalars(as: Float.self) == values)
        #expect(pieced.withUnsafePieces { $0.count } == 1)
        #expect(!pieced.isHeldInPieces)
    }

    /// Writing a tensor held in pieces writes a copy of its own: other copies and the pieces keep their values.
    @Test func writingATensorHeldInPiecesLeavesItsCopiesAlone() throws {
        let kept = try MisalignedPieces.tensor(values, cuts: [500])
        var written = kept
        try written.withUnsafeMutableBufferPointer(as: Float.self) { $0[700] = 1e9 }
        #expect(try kept.scalars(as: Float.self) == values)
        #expect(try written.scalars(as: Float.self)[700] == 1e9)
        #expect(!written.isHeldInPieces)
    }

    @Test func piecesMustAddUpToWholeElements() {
        let owner = MisalignedPieces(values, cuts: [10])
        let pieces = owner.pieces
        #expect(throws: CoreError.self) { try Tensor(dtype: .float32, shape: [999], pieces: TensorPieces(pieces, owner: owner)) }
        let split = [UnsafeRawBufferPointer(rebasing: pieces[0][..<3]), UnsafeRawBufferPointer(rebasing: pieces[0][3...]), pieces[1]]
        #expect(throws: CoreError.self) { try Tensor(dtype: .float32, shape: [1_000], pieces: TensorPieces(split, owner: owner)) }
    }
}
