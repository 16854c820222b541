import Foundation
@testable import PollenCore
import Testing

@Suite struct FileMappingTests {
    /// A file the kernel will not map (opened for writing only) is an unreadable file named in the error, not an
    /// invalid tensor.
    @Test func aFileThatCannotBeMappedIsNamedAsUnreadable() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("pollen-mapping-\(UUID().uuidString)").path
        #expect(FileManager.default.createFile(atPath: path, contents: Data(count: 4_096)))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let file = open(path, O_WRONLY | O_CLOEXEC)
        try #require(file >= 0)
        defer { close(file) }
        let error = #expect(throws: CoreError.self) { try FileMapping(descriptor: file, count: 4_096, path: path) }
        #expect(error?.code == .unreadableFile)
        #expect(error?.message.contains(path) == true)
    }

    /// A readable file maps, and a tensor views its bytes.
    @Test func aTensorViewsAMappedFile() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("pollen-mapping-\(UUID().uuidString)").path
        let values: [Float] = [1.5, -2, 0.25, 8]
        #expect(FileManager.default.createFile(atPath: path, contents: values.withUnsafeBytes { Data($0) }))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let file = open(path, O_RDONLY | O_CLOEXEC)
        try #require(file >= 0)
        defer { close(file) }
        let mapping = try FileMapping(descriptor: file, count: 16, path: path)
        #expect(try Tensor(dtype: .float32, shape: [4], viewing: mapping, offset: 0).scalars(as: Float.self) == values)
    }
}
