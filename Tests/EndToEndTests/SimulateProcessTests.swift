import Foundation
import Testing

/// Runs the real `pollen` executable, built next to this test bundle, and captures what it prints.
struct PollenProcess {
    var status: Int32
    var standardOutput: String
    var standardError: String

    static var executable: URL {
        if let path = ProcessInfo.processInfo.environment["POLLEN_EXECUTABLE"] { return URL(fileURLWithPath: path) }
        // The test bundle lives in the build folder (.build/<config>/), beside the `pollen` executable.
        var directory = Bundle.main.bundleURL
        for _ in 0..<4 {
            let candidate = directory.appendingPathComponent("pollen")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            directory = directory.deletingLastPathComponent()
        }
        return directory.appendingPathComponent("pollen")
    }

    /// Runs `pollen arguments` in `directory`, with `environment` added to this process's.
    static func run(
        _ arguments: [String], in directory: URL, environment: [String: String] = [:], executable: URL = PollenProcess.executable
    ) throws -> PollenProcess {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.currentDirectoryURL = directory
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return PollenProcess(
            status: process.terminationStatus,
            standardOutput: String(decoding: outData, as: UTF8.self),
            standardError: String(decoding: errData, as: UTF8.self)
        )
    }
}

func freshDirectory() throws -> URL {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pollen-e2e-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    return directory
}

@Suite(.serialized) struct SimulateProcessTests {
    @Test func theDefaultRunCompletesAndMatchesTheCentralModel() throws {
        let directory = try freshDirectory()
        let run = try PollenProcess.run(["simulate"], in: directory)
        #expect(run.status == 0, "stderr: \(run.standardError)")
        let lines = run.standardOutput.split(separator: "\n")
        #expect(lines.filter { $0.range(of: #"^\s+\d+\s"#, options: .regularExpression) != nil }.count == 20)
        func accuracy(_ prefix: String) -> Double? {
            guard let line = lines.first(where: { $0.hasPrefix(prefix) }),
                  let range = line.range(of: #"test accuracy (\d\.\d+)"#, options: .regularExpression) else { return nil }
            return Double(line[range].split(separator: " ").last!)
        }
        let federated = try #require(accuracy("Federated model"))
        let central = try #require(accuracy("Central model"))
        #expect(federated >= central - 0.02)
        let runs = try FileManager.default.contentsOfDirectory(atPath: directory.appendingPathComponent("runs").path)
        #expect(runs.count == 1)
    }

    @Test func twoRunsWithTheSameSeedWriteIdenticalModels() throws {
        let directory = try freshDirectory()
        for _ in 0..<2 {
            let run = try PollenProcess.run(["simulate", "--dataset", "digits", "--model", "softmax", "--nodes", "20", "--alpha", "0.3", "--rounds", "5"], in: directory)
            #expect(run.status == 0, "stderr: \(run.standardError)")
        }
        let root = directory.appendingPathComponent("runs")
        let runs = try FileManager.default.contentsOfDirectory(atPath: root.path).sorted()
        #expect(runs.count == 2)
        for name in ["weight.npy", "bias.npy"] {
            let first = try Data(contentsOf: root.appendingPathComponent("\(runs[0])/model/\(name)"))
            let second = try Data(contentsOf: root.appendingPathComponent("\(runs[1])/model/\(name)"))
            #expect(first == second)
            #expect(first.count > 128)
        }
    }

    @Test func badInputExitsNonZeroWithAMessageThatNamesTheProblem() throws {
        let directory = try freshDirectory()
        try Data("a,b,label\n1,2,0\n3,x,1\n".utf8).write(to: directory.appendingPathComponent("bad.csv"))
        let cases: [([String], String)] = [
            (["simulate", "--dataset", "missing.csv", "--label", "y"], "missing.csv"),
            (["simulate", "--dataset", "bad.csv", "--label", "label"], "row 3, column 2 ('b')"),
            (["simulate", "--dataset", "bad.csv", "--label", "outcome"], "no label column 'outcome'"),
            (["simulate", "--model", "forest"], "model"),
            (["simulate", "--rounds=-1"], "num-server-rounds"),
            (["simulate", "--run-config", "learning-rate=fast"], "learning-rate"),
            (["simulate", "--nodes", "1", "--partitioner", "iid"], "min-available-nodes"),
        ]
        for (arguments, expected) in cases {
            let run = try PollenProcess.run(arguments, in: directory)
            #expect(run.status != 0, "\(arguments) exited 0")
            #expect(run.standardError.contains(expected), "\(arguments): \(run.standardError)")
        }
    }
}
