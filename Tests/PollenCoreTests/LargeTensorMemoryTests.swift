import Foundation
@testable import PollenCore
import Testing

/// Where large tensors get their memory: `MappingPool` (pages kept for the next tensor) and `ScratchArena` (a
/// ClientApp's shared scratch file).
/// Where large tensors get their memory: pools of their own, so that tests running meanwhile cannot take or push out
/// the mappings a test counts.
@Suite struct LargeTensorMemoryTests {
    /// 74 MiB: a length no other test's tensors come near, so that concurrent tests cannot take this mapping.
    static let poolLength = 37 * TensorStorage.hugePageBytes

    /// Large tensors live in mappings of their own (huge pages): zeroed, aligned, copied on write like the rest.
    @Test func largeTensorsAreZeroedAlignedAndCopiedOnWrite() throws {
        let count = 3 << 20 + 5  // 12 MiB and a bit: past the mapping threshold, not a whole number of huge pages
        var tensor = try Tensor(zeros: .float32, shape: [count])
        try tensor.withUnsafeBufferPointer(as: Float.self) { values in
            #expect(Int(bitPattern: values.baseAddress) % (2 << 20) == 0)
            #expect(values.allSatisfy { $0 == 0 })
        }
        let copy = tensor
        try tensor.withUnsafeMutableBufferPointer(as: Float.self) { values in
            values[0] = 1
            values[count - 1] = 2
        }
        #expect(try copy.scalars(as: Float.self).allSatisfy { $0 == 0 })
        let written = try tensor.scalars(as: Float.self)
        #expect(written.first == 1 && written.last == 2 && written.dropFirst().dropLast().allSatisfy { $0 == 0 })
        let filled = try Tensor(dtype: .float32, shape: [count]) { $0.bindMemory(to: Float.self).initialize(repeating: 3) }
        #expect(try filled.scalars(as: Float.self).allSatisfy { $0 == 3 })
    }

    @Test func aKeptMappingServesTheNextRequestOfItsSizeAndNoSmallerOne() throws {
        let pool = MappingPool()
        let mapped = try #require(mmap(nil, Self.poolLength, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0))
        pool.give(mapped, length: Self.poolLength)
        // A request for half the length would pin twice what it needs: it is not served from this mapping.
        if let other = pool.take(length: Self.poolLength / 2) {
            #expect(other.start != mapped)
            munmap(other.start, other.length)
        }
        let taken = try #require(pool.take(length: Self.poolLength - TensorStorage.hugePageBytes))
        #expect(taken.start == mapped)
        #expect(taken.length == Self.poolLength)
        munmap(taken.start, taken.length)
    }

    @Test func mappingsIdleTooLongAreUnmapped() throws {
        let length = Self.poolLength + TensorStorage.hugePageBytes
        let pool = MappingPool()
        let mapped = try #require(mmap(nil, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0))
        pool.give(mapped, length: length)
        pool.sweep(now: DispatchTime.now().uptimeNanoseconds + UInt64(pool.idleSeconds * 2e9))
        #expect(pool.take(length: length) == nil)
    }

    /// Mappings prepared in the background are kept, all zeros, and serve the next requests of their size; a tensor
    /// too small for a mapping gets none prepared.
    @Test func preparedMappingsServeTheNextRequestsOfTheirSize() async throws {
        // Kept for an hour: a test held up by others running meanwhile must not see them swept.
        let pool = MappingPool(idleSeconds: 3_600)
        let byteCount = 20 * TensorStorage.hugePageBytes
        pool.prepare(count: 2, forBytes: byteCount)
        // Counted while they are being prepared, so that nobody prepares them twice.
        #expect(pool.fittingCount(forBytes: byteCount) == 2)
        pool.prepare(count: 2, forBytes: MappingPool.smallestMappedTensor - 1)
        #expect(pool.fittingCount(forBytes: MappingPool.smallestMappedTensor - 1) == 0)
        var taken = pool.take(length: byteCount)
        for _ in 0..<1_000 where taken == nil {
            try await Task.sleep(for: .milliseconds(10))
            taken = pool.take(length: byteCount)
        }
        let first = try #require(taken)
        defer { munmap(first.start, first.length) }
        #expect(pool.fittingCount(forBytes: byteCount) == 1)
        let values = UnsafeRawBufferPointer(start: first.start, count: first.length)
        #expect(stride(from: 0, to: values.count, by: 4_096).allSatisfy { values[$0] == 0 })
        var other = pool.take(length: byteCount)
        for _ in 0..<1_000 where other == nil {
            try await Task.sleep(for: .milliseconds(10))
            other = pool.take(length: byteCount)
        }
        let second = try #require(other)
        munmap(second.start, second.length)
    }

    @Test func aTensorOfZerosMadeFromKeptPagesIsZeros() throws {
        let count = 3 << 20  // 12 MiB of Float: mapped, and so kept when freed.
        do {
            var written = try Tensor(zeros: .float32, shape: [count])
            try written.withUnsafeMutableBufferPointer(as: Float.self) { $0.update(repeating: 7) }
        }
        let zeros = try Tensor(zeros: .float32, shape: [count])
        try zeros.withUnsafeBufferPointer(as: Float.self) { values in
            #expect(values.allSatisfy { $0 == 0 })
        }
    }

    @Test func anArenaCarvesPageAlignedRangesOfItsFileUntilItIsUsedUp() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("arena-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(FileManager.default.createFile(atPath: path, contents: Data(count: 3 * 4_096)))
        let arena = try ScratchArena(path: path)
        let first = try #require(arena.carve(100))
        let second = try #require(arena.carve(4_096))
        #expect(Int(bitPattern: second) - Int(bitPattern: first) == 4_096, "the second range starts on the next page")
        #expect(arena.carve(4_097) == nil, "more than is left")
        // What is written lands in the file, which the SuperNode keeps for the run's next message.
        second.storeBytes(of: 0xAB, as: UInt8.self)
        #expect(try Data(contentsOf: URL(fileURLWithPath: path))[4_096] == 0xAB)
    }

    @Test func aMissingScratchFileIsAnErrorNamingIt() {
        #expect(throws: CoreError.self) { try ScratchArena(path: "/nonexistent/scratch") }
        do { _ = try ScratchArena(path: "/nonexistent/scratch") } catch {
            #expect("\(error)".contains("/nonexistent/scratch"))
        }
    }
}
