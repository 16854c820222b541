import Foundation
import Testing

/// Flower 1.42's own executables, from the venv `scripts/flower-venv` makes; `nil` when it cannot be made.
enum FlowerInstall {
    static let binDirectory: URL? = {
        let script = Federation.repositoryRoot.appendingPathComponent("scripts/flower-venv").path
        guard let run = try? PollenProcess.run([], in: Federation.repositoryRoot, executable: URL(fileURLWithPath: script)), run.status == 0 else {
            return nil
        }
        let python = run.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)
        return python.isEmpty ? nil : URL(fileURLWithPath: python).deletingLastPathComponent()
    }()
}

/// Flower peers in a Pollen federation: Flower's own SuperNode connects to a Pollen SuperLink over the Fleet API,
/// authenticating with Flower's signature headers.
@Suite(.serialized, .enabled(if: FlowerInstall.binDirectory != nil, "Flower 1.42 could not be installed (scripts/flower-venv failed); interop tests skipped"))
struct FlowerInteropTests {
    @Test func flowersSuperNodeRegistersActivatesAndPolls() throws {
        let federation = try Federation.start()
        defer { federation.stop() }
        let flower = Process()
        flower.executableURL = FlowerInstall.binDirectory!.appendingPathComponent("flower-supernode")
        flower.arguments = ["--insecure", "--superlink", federation.address, "--isolation", "process", "--port", String(try freePort())]
        flower.currentDirectoryURL = federation.directory
        flower.environment = ProcessInfo.processInfo.environment.merging(["FLWR_TELEMETRY_ENABLED": "0"]) { $1 }
        let log = federation.directory.appendingPathComponent("flower-supernode.log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        flower.standardOutput = handle
        flower.standardError = handle
        try flower.run()
        // Flower's SuperNode does not stop promptly on SIGTERM or SIGINT (its uvicorn server keeps it up): kill it.
        defer {
            if flower.isRunning { kill(flower.processIdentifier, SIGKILL) }
            flower.waitUntilExit()
        }

        func nodes() throws -> String {
            try PollenProcess.run(["nodes", "--insecure", "--superlink", federation.address], in: federation.directory).standardOutput
        }
        let deadline = Date().addingTimeInterval(60)
        while !(try nodes()).contains("online"), Date() < deadline { usleep(200_000) }
        let listing = try nodes()
        let flowerLog = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        #expect(listing.contains("online"), "Flower's SuperNode did not come online:\n\(listing)\n\(flowerLog)")

        // It keeps polling with signed requests; the Pollen SuperLink keeps it online.
        usleep(1_500_000)
        #expect(try nodes().contains("online"))
    }
}

/// A TCP port on 127.0.0.1 that nothing listens on now (the kernel's pick for a socket bound to port 0).
func freePort() throws -> Int {
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard descriptor >= 0 else { throw TestFailure("cannot open a socket") }
    defer { close(descriptor) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) } }
    guard bound == 0 else { throw TestFailure("cannot bind a socket") }
    _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) } }
    return Int(UInt16(bigEndian: address.sin_port))
}
