import PollenCore
import Testing

@Suite struct TensorTests {
    @Test func holdsScalarsInRowMajorOrder() throws {
        let tensor = try Tensor([1, 2, 3, 4, 5, 6] as [Float], shape: [2, 3])
        #expect(tensor.dtype == .float32)
        #expect(tensor.count == 6)
        #expect(tensor.byteCount == 24)
        #expect(try tensor.scalars(as: Float.self) == [1, 2, 3, 4, 5, 6])
    }

    @Test func supportsTheCommonDTypes() throws {
        #expect(try Tensor([1.5, 2.5] as [Double]).dtype == .float64)
        #expect(try Tensor([1, 2] as [Int32]).dtype == .int32)
        #expect(try Tensor([1, 2] as [Int64]).dtype == .int64)
        #expect(try Tensor([1, 2] as [UInt8]).dtype == .uint8)
        let flags = try Tensor([true, false, true])
        #expect(flags.dtype == .bool)
        #expect(try flags.scalars(as: Bool.self) == [true, false, true])
        #expect(DType(named: "int64") == .int64)
        #expect(DType(named: "complex128") == nil)
    }

    @Test func rejectsAShapeThatDoesNotFitTheScalars() {
        #expect(throws: CoreError.self) { try Tensor([1, 2, 3] as [Float], shape: [2, 2]) }
        #expect(throws: CoreError.self) { try Tensor(dtype: .float32, shape: [2], bytes: [0, 0, 0]) }
        #expect(throws: CoreError.self) { try Tensor(zeros: .float32, shape: [-1]) }
    }

    @Test func readingAsTheWrongTypeIsAnError() throws {
        let tensor = try Tensor([1, 2] as [Float])
        let error = #expect(throws: CoreError.self) { try tensor.scalars(as: Double.self) }
        #expect(error?.code == .invalidTensor)
        #expect(error?.message.contains("float32") == true)
    }

    @Test func copiesAreIndependentAfterAWrite() throws {
        let original = try Tensor([1, 2, 3] as [Float])
        var copy = original
        try copy.withUnsafeMutableBufferPointer(as: Float.self) { $0[0] = 42 }
        #expect(try original.scalars(as: Float.self) == [1, 2, 3])
        #expect(try copy.scalars(as: Float.self) == [42, 2, 3])
        #expect(original != copy)
    }

    @Test func storageIsAlignedForSIMD() throws {
        let tensor = try Tensor(zeros: .float32, shape: [1_000])
        tensor.withUnsafeBytes { #expect(Int(bitPattern: $0.baseAddress) % 64 == 0) }
    }

    /// A split hands out the tensor's own bytes as parts: no copy, each part written on its own.
    @Test func splittingSharesTheBytesAndKeepsThePartsApart() throws {
        let whole = try Tensor((0..<40).map(Float.init))
        let base = whole.withUnsafeBytes { Int(bitPattern: $0.baseAddress) }
        var parts = try (consume whole).split(shapes: [[2, 3], [4]], offsets: [0, 16])
        #expect(parts[0].withUnsafeBytes { Int(bitPattern: $0.baseAddress) } == base, "the first part was copied")
        #expect(parts[1].withUnsafeBytes { Int(bitPattern: $0.baseAddress) } == base + 64, "the second part was copied")
        #expect(try parts[0].scalars(as: Float.self) == [0, 1, 2, 3, 4, 5] && parts[0].shape == [2, 3])
        #expect(try parts[1].scalars(as: Float.self) == [16, 17, 18, 19])
        try parts[0].withUnsafeMutableBufferPointer(as: Float.self) { $0.update(repeating: -1) }
        #expect(try parts[1].scalars(as: Float.self) == [16, 17, 18, 19])
        // A part shared with a copy is copied before it is written.
        let kept = parts[1]
        try parts[1].withUnsafeMutableBufferPointer(as: Float.self) { $0[0] = 99 }
        #expect(try kept.scalars(as: Float.self)[0] == 16)

        let source = try Tensor((0..<40).map(Float.init))
        #expect(throws: CoreError.self) { try source.split(shapes: [[4]], offsets: [3]) }  // not 64-byte aligned
        #expect(throws: CoreError.self) { try source.split(shapes: [[20], [4]], offsets: [0, 16]) }  // overlapping
        #expect(throws: CoreError.self) { try source.split(shapes: [[32]], offsets: [16]) }  // past the end
    }
}
