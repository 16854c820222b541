import Foundation

/// Flower 1.42 itself, in a venv made by `scripts/flower-venv`, as an oracle for wire compatibility.
///
/// `python` is `nil` when the venv cannot be made (no Python, no package index); the tests that need it are then
/// skipped with that reason, which `swift test` prints.
enum FlowerOracle {
    static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static let python: String? = {
        guard let output = try? run(repositoryRoot.appendingPathComponent("scripts/flower-venv").path, arguments: []),
              output.status == 0
        else { return nil }
        let path = String(decoding: output.standardOutput, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return path.isEmpty ? nil : path
    }()

    static var isAvailable: Bool { python != nil }

    /// Runs `script` (relative to the Oracle folder) with Flower's Python and returns what it printed.
    static func runScript(_ script: String, arguments: [String] = []) throws -> Data {
        let path = repositoryRoot.appendingPathComponent("Tests/PollenWireTests/Oracle/\(script)").path
        let output = try run(python!, arguments: [path] + arguments)
        guard output.status == 0 else {
            throw OracleError(message: "\(script) failed: \(String(decoding: output.standardError, as: UTF8.self))")
        }
        return output.standardOutput
    }

    struct OracleError: Error, CustomStringConvertible {
        var message: String
        var description: String { message }
    }

    private static func run(_ executable: String, arguments: [String]) throws -> (status: Int32, standardOutput: Data, standardError: Data) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        // Read both pipes while the process runs, so a large output cannot fill a pipe and block it.
        let errorData = LockedData()
        let reader = Thread { errorData.set(err.fileHandleForReading.readDataToEndOfFile()) }
        reader.start()
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        while !errorData.isSet { usleep(1_000) }
        return (process.terminationStatus, outData, errorData.value)
    }
}

import Synchronization

/// Data handed from a reader thread.
final class LockedData: Sendable {
    private let storage = Mutex<Data?>(nil)
    func set(_ data: Data) { storage.withLock { $0 = data } }
    var isSet: Bool { storage.withLock { $0 != nil } }
    var value: Data { storage.withLock { $0 ?? Data() } }
}
