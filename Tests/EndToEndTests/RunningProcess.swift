import Foundation
import Synchronization

/// A `pollen` process (or a peer's, such as Flower's) that keeps running (a daemon, or a command followed while it
/// runs), with everything it prints collected, so a test can wait for a line, then stop or kill it. Killed when
/// released.
final class RunningProcess: Sendable {
    private let process: Process
    private let output = OutputBuffer()

    /// Starts `executable arguments` in `directory`, with `environment` added to this process's.
    init(
        _ arguments: [String], in directory: URL, executable: URL = PollenProcess.executable, environment: [String: String] = [:]
    ) throws {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.currentDirectoryURL = directory
        if !environment.isEmpty { process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        self.process = process
        let output = self.output
        pipe.fileHandleForReading.readabilityHandler = { handle in
            let data = handle.availableData
            if data.isEmpty {
                handle.readabilityHandler = nil
                output.close()
            } else {
                output.append(String(decoding: data, as: UTF8.self))
            }
        }
        try process.run()
    }

    deinit { kill() }

    /// The program's name and arguments, for messages.
    private var commandLine: String { "\(process.executableURL?.lastPathComponent ?? "?") \(process.arguments ?? [])" }

    /// Everything printed so far.
    var printed: String { output.text }

    var isRunning: Bool { process.isRunning }

    var pid: Int32 { process.processIdentifier }

    /// The processes this one started, with their command lines, from `/proc`.
    var children: [(pid: Int32, commandLine: String)] { Self.children(of: process.processIdentifier) }

    private static func children(of pid: Int32) -> [(pid: Int32, commandLine: String)] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { entry in
            guard let child = Int32(entry), let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                  let afterName = stat.range(of: ") ", options: .backwards),
                  stat[afterName.upperBound...].split(separator: " ").dropFirst().first == Substring(String(pid)),
                  let commandLine = try? String(contentsOfFile: "/proc/\(entry)/cmdline", encoding: .utf8)
            else { return nil }
            return (child, commandLine.replacingOccurrences(of: "\0", with: " "))
        }
    }

    /// Waits until the output matches `pattern` (a regular expression) and returns the first match.
    @discardableResult
    func waitFor(_ pattern: String, timeoutSeconds: Double = 60) throws -> String {
        let deadline = Date().addingTimeInterval(timeoutSeconds)
        while Date() < deadline {
            let text = printed
            if let range = text.range(of: pattern, options: .regularExpression) { return String(text[range]) }
            if !process.isRunning, output.isClosed, printed.range(of: pattern, options: .regularExpression) == nil {
                throw TestFailure("\(commandLine) exited (\(process.terminationStatus)) before printing /\(pattern)/:\n\(printed)")
            }
            usleep(50_000)
        }
        throw TestFailure("\(commandLine) did not print /\(pattern)/ in \(Int(timeoutSeconds)) s:\n\(printed)")
    }

    /// Waits for the process to exit; returns its status.
    func waitForExit(timeoutSeconds: Double = 120) throws -> Int32 {
        let deadline = Date().addingTimeInterval(timeoutSeconds)
        while process.isRunning {
            guard Date() < deadline else { throw TestFailure("\(commandLine) still runs after \(Int(timeoutSeconds)) s:\n\(printed)") }
            usleep(50_000)
        }
        // Everything it printed: read until the pipe closes (later, if a process it started still holds it open).
        let drained = Date().addingTimeInterval(10)
        while !output.isClosed, Date() < drained { usleep(10_000) }
        return process.terminationStatus
    }

    /// SIGTERM: a graceful stop.
    func terminate() {
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
    }

    /// SIGKILL: no chance to clean up.
    func kill() {
        if process.isRunning { Foundation.kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    /// SIGKILL to this process and every process it started, theirs included, even those in a session of their
    /// own (Flower's daemons start their SuperExec so, and do not stop promptly on SIGTERM).
    func killWithDescendants() {
        var pending = [process.processIdentifier]
        var found = [Int32]()
        while let pid = pending.popLast() {
            let children = Self.children(of: pid).map(\.pid)
            found += children
            pending += children
        }
        kill()
        for pid in found { Foundation.kill(pid, SIGKILL) }
    }
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Text appended from a reader thread.
final class OutputBuffer: Sendable {
    private let storage = Mutex((text: "", closed: false))
    func append(_ text: String) { storage.withLock { $0.text += text } }
    func close() { storage.withLock { $0.closed = true } }
    var text: String { storage.withLock { $0.text } }
    var isClosed: Bool { storage.withLock { $0.closed } }
}
