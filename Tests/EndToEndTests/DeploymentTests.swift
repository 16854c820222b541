import Foundation
import Testing

/// A federation of real processes on 127.0.0.1: one SuperLink and SuperNodes, each reading its own CSV
/// partition of the breast-cancer set, driven by `pollen run`.
struct Federation {
    let directory: URL
    let superLink: RunningProcess
    let port: Int
    /// How clients reach the SuperLink: `--insecure`, or `--root-certificates CA.pem` for HTTPS.
    var connection = ["--insecure"]
    var nodes: [RunningProcess] = []

    /// Writes three IID partitions of the bundled breast-cancer CSV (and one file with a `site` column for the
    /// simulation of the same split), and starts a SuperLink on a free port with its state in a SQLite file.
    static func start(port: Int = 0, directory: URL? = nil, tls: TestCertificates? = nil, options: [String] = []) throws -> Federation {
        let directory = try directory ?? freshDirectory()
        if !FileManager.default.fileExists(atPath: directory.appendingPathComponent("site0.csv").path) {
            try writePartitions(into: directory)
        }
        let security = tls.map { ["--ssl-certfile", $0.serverCertificate, "--ssl-keyfile", $0.serverKey] } ?? ["--insecure"]
        let superLink = try RunningProcess(
            ["superlink", "--port", String(port), "--database", directory.appendingPathComponent("link.db").path] + security + options,
            in: directory
        )
        let line = try superLink.waitFor(#"listening on https?://127\.0\.0\.1:[0-9]+"#)
        var federation = Federation(directory: directory, superLink: superLink, port: Int(line.split(separator: ":").last!)!)
        if let tls { federation.connection = ["--root-certificates", tls.authority] }
        return federation
    }

    var address: String { "127.0.0.1:\(port)" }

    /// Starts a SuperNode on `csv` and waits until it has connected.
    mutating func addNode(
        csv: String, heartbeatInterval: Int = 30, key: String? = nil, options: [String] = [], waitForConnection: Bool = true
    ) throws {
        let node = try RunningProcess([
            "supernode", "--superlink", address] + connection + (key.map { ["--key", $0] } ?? []) + [ "--heartbeat-interval", String(heartbeatInterval),
            "--node-config", "data-path=\(directory.appendingPathComponent(csv).path)", "--node-config", "label=diagnosis",
        ] + options, in: directory)
        if waitForConnection { try node.waitFor("connected to the SuperLink") }
        nodes.append(node)
    }

    /// Runs `pollen run --stream` with the given settings and returns the process (still running or finished).
    func submit(_ settings: [String], app: String = "tabular", stream: Bool = true) throws -> RunningProcess {
        try RunningProcess(
            ["run", "--superlink", address, "--app", app] + connection + settings.flatMap { ["--run-config", $0] } + (stream ? ["--stream"] : []),
            in: directory
        )
    }

    func stop() {
        for node in nodes { node.terminate() }
        superLink.terminate()
    }

    static func writePartitions(into directory: URL) throws {
        let source = try String(contentsOf: repositoryRoot.appendingPathComponent("Sources/PollenApps/Datasets/breast_cancer.csv"), encoding: .utf8)
        let lines = source.split(separator: "\n").map(String.init)
        var partitions = [[String]](repeating: [lines[0]], count: 3)
        var combined = ["site," + lines[0]]
        for (index, row) in lines.dropFirst().enumerated() {
            partitions[index % 3].append(row)
            combined.append("site\(index % 3),\(row)")
        }
        for (index, rows) in partitions.enumerated() {
            try (rows.joined(separator: "\n") + "\n").write(to: directory.appendingPathComponent("site\(index).csv"), atomically: true, encoding: .utf8)
        }
        try (combined.joined(separator: "\n") + "\n").write(to: directory.appendingPathComponent("all-sites.csv"), atomically: true, encoding: .utf8)
    }

    static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
}

/// A folder `name` in `directory` holding `connections` as its `config.toml`: a `POLLEN_HOME` or `FLWR_HOME` whose
/// CLI connections (both read the same layout) the test chooses.
func connectionsHome(_ name: String, in directory: URL, _ connections: String) throws -> URL {
    let home = directory.appendingPathComponent(name)
    try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
    try connections.write(to: home.appendingPathComponent("config.toml"), atomically: true, encoding: .utf8)
    return home
}

func finalAccuracy(_ output: String) -> Double? {
    guard let range = output.range(of: #"final federated evaluation accuracy [0-9.]+"#, options: .regularExpression) else { return nil }
    return Double(output[range].split(separator: " ").last!)
}

@Suite(.serialized) struct DeploymentTests {
    @Test func threeSuperNodesTrainToTheSimulationsAccuracy() throws {
        var federation = try Federation.start()
        defer { federation.stop() }
        for site in 0..<3 { try federation.addNode(csv: "site\(site).csv") }
        let run = try federation.submit(["min-available-nodes=3"])
        #expect(try run.waitForExit() == 0, "\(run.printed)")
        let deployed = try #require(finalAccuracy(run.printed), "\(run.printed)")
        #expect(run.printed.contains("   20 "))

        let simulation = try PollenProcess.run([
            "simulate", "--dataset", "all-sites.csv", "--label", "diagnosis", "--partitioner", "column", "--partition-column", "site",
            "--output", "",
        ], in: federation.directory)
        #expect(simulation.status == 0, "\(simulation.standardError)")
        let line = try #require(simulation.standardOutput.split(separator: "\n").first { $0.hasPrefix("Federated model") })
        let simulated = try #require(line.range(of: #"test accuracy [0-9.]+"#, options: .regularExpression).map { Double(line[$0].split(separator: " ").last!)! })
        // The same three sites, the same model and rounds; the deployment evaluates on each node's held-out rows,
        // the simulation on a global test split, so they agree to within a few points.
        #expect(deployed >= 0.94)
        #expect(abs(deployed - simulated) <= 0.05, "deployment \(deployed), simulation \(simulated)")
    }

    @Test func aSuperNodeKilledMidRunLeavesTheRoundToTheOthers() throws {
        var federation = try Federation.start()
        defer { federation.stop() }
        for site in 0..<3 { try federation.addNode(csv: "site\(site).csv", heartbeatInterval: 10) }
        let run = try federation.submit(["num-server-rounds=6"])
        try run.waitFor(#"\n    2 "#)
        federation.nodes[0].kill()
        #expect(try run.waitForExit(timeoutSeconds: 180) == 0, "\(run.printed)")
        #expect(run.printed.contains("offline"), "the round with the dead node should name its failure:\n\(run.printed)")
        #expect(finalAccuracy(run.printed).map { $0 > 0.9 } == true, "\(run.printed)")
    }

    @Test func requireKnownNodesAdmitsOnlyKeysAnOperatorRegistered() throws {
        // Also the one test of a ServerApp inside the SuperLink (`--isolation none`).
        var federation = try Federation.start(options: ["--require-known-nodes", "--isolation", "none"])
        defer { federation.stop() }
        let key = federation.directory.appendingPathComponent("site0.key").path
        let printed = try PollenProcess.run(["supernode", "--key", key, "--print-public-key", "--insecure"], in: federation.directory)
        #expect(printed.standardOutput.contains("BEGIN PUBLIC KEY"))
        try federation.addNode(csv: "site0.csv", key: key, waitForConnection: false)
        try federation.nodes[0].waitFor("cannot connect yet")
        let registered = try PollenProcess.run(["nodes", "--insecure", "--superlink", federation.address, "--register", key + ".pub"], in: federation.directory)
        #expect(registered.standardOutput.contains("registered node"), "\(registered.standardError)")
        try federation.nodes[0].waitFor("connected to the SuperLink", timeoutSeconds: 30)
        let run = try federation.submit(["num-server-rounds=1", "min-available-nodes=1", "min-train-nodes=1", "min-evaluate-nodes=1"])
        #expect(try run.waitForExit() == 0, "\(run.printed)")
    }

    /// `--accounts`: the CLI needs an account's token; researchers see and stop their own runs only, operators every
    /// run and the SuperNodes; a run's log says who submitted and who stopped it.
    @Test func controlAPIAccountsSeparateResearchersAndOperators() throws {
        let directory = try freshDirectory()
        func path(_ name: String) -> String { directory.appendingPathComponent(name).path }
        var accounts = ""
        for (name, role) in [("alice", "researcher"), ("bob", "researcher"), ("ops", "operator")] {
            let made = try PollenProcess.run(["account", name, "--role", role, "--token-file", path("\(name).token")], in: directory)
            try #require(made.status == 0, "\(made.standardError)")
            accounts += made.standardOutput + "\n"
        }
        #expect(!accounts.contains(try String(contentsOfFile: path("alice.token"), encoding: .utf8).trimmingCharacters(in: .newlines)))
        try accounts.write(toFile: path("accounts.toml"), atomically: true, encoding: .utf8)
        let federation = try Federation.start(directory: directory, options: ["--accounts", path("accounts.toml")])
        defer { federation.stop() }
        func pollen(_ arguments: [String], as account: String?) throws -> PollenProcess {
            try PollenProcess.run(
                arguments + ["--superlink", federation.address] + federation.connection + (account.map { ["--token-file", path("\($0).token")] } ?? []),
                in: directory
            )
        }

        let anonymous = try pollen(["ls"], as: nil)
        #expect(anonymous.status != 0 && anonymous.standardError.contains("needs an account"), "\(anonymous.standardError)")
        let submitted = try pollen(["run", "--run-config", "num-server-rounds=1"], as: "alice")
        let runID = try #require(submitted.standardOutput.split(separator: " ").dropFirst().first.map(String.init), "\(submitted.standardError)")
        #expect(try pollen(["ls"], as: "alice").standardOutput.contains(runID))
        #expect(!(try pollen(["ls"], as: "bob").standardOutput.contains(runID)))
        let bobStops = try pollen(["stop", runID], as: "bob")
        #expect(bobStops.status != 0 && bobStops.standardError.contains("404"), "\(bobStops.standardError)")
        let aliceListsNodes = try pollen(["nodes"], as: "alice")
        #expect(aliceListsNodes.status != 0 && aliceListsNodes.standardError.contains("for operators"), "\(aliceListsNodes.standardError)")
        #expect(try pollen(["nodes"], as: "ops").status == 0)
        #expect(try pollen(["stop", runID], as: "ops").status == 0)
        let log = try pollen(["log", runID], as: "alice").standardOutput
        #expect(log.contains("submitted by alice (researcher)") && log.contains("stopped by ops (operator)"), "\(log)")

        // SIGHUP reads the file again: carol is admitted and bob is not, with no restart.
        let carol = try PollenProcess.run(["account", "carol", "--role", "researcher", "--token-file", path("carol.token")], in: directory)
        #expect(try pollen(["ls"], as: "carol").status != 0)
        let withoutBob = accounts.components(separatedBy: "\n\n").filter { !$0.contains("[accounts.bob]") }.joined(separator: "\n\n")
        try (withoutBob + "\n" + carol.standardOutput).write(toFile: path("accounts.toml"), atomically: true, encoding: .utf8)
        kill(federation.superLink.pid, SIGHUP)
        _ = try federation.superLink.waitFor("accounts file reloaded", timeoutSeconds: 10)
        let carolLists = try pollen(["ls"], as: "carol")
        #expect(carolLists.status == 0 && !carolLists.standardOutput.contains(runID), "\(carolLists.standardError)")
        #expect(try pollen(["ls"], as: "bob").status != 0)
        // A file that no longer reads keeps the accounts as they were, and says why.
        try "[accounts.carol]\nrole = \"chief\"\n".write(toFile: path("accounts.toml"), atomically: true, encoding: .utf8)
        kill(federation.superLink.pid, SIGHUP)
        let refused = try federation.superLink.waitFor("[^\n]*accounts file not reloaded[^\n]*", timeoutSeconds: 10)
        #expect(refused.contains("needs role"), "\(refused)")
        #expect(try pollen(["ls"], as: "carol").status == 0)
        #expect(federation.superLink.isRunning)
    }

    @Test func aFailingClientAppIsAFailedReplyAndItsNodeKeepsServing() throws {
        var federation = try Federation.start()
        defer { federation.stop() }
        try "mean_radius,diagnosis\n1.0,0\nnot-a-number,1\n".write(to: federation.directory.appendingPathComponent("broken.csv"), atomically: true, encoding: .utf8)
        try federation.addNode(csv: "site0.csv")
        try federation.addNode(csv: "site1.csv")
        try federation.addNode(csv: "broken.csv")
        for _ in 0..<2 {
            let run = try federation.submit(["num-server-rounds=2", "min-available-nodes=3"])
            #expect(try run.waitForExit() == 0, "\(run.printed)")
        }
        let brokenLog = federation.nodes[2].printed
        #expect(brokenLog.components(separatedBy: "failed=true").count - 1 >= 2, "\(brokenLog)")
        #expect(federation.nodes[2].isRunning)
    }

    /// Each ClientApp runs in a process of its own: one that runs out of memory or past its time limit is a
    /// failure reply saying so, and its SuperNode serves the next run.
    @Test func aClientAppOverItsMemoryOrTimeLimitIsAFailedReplyAndItsNodeKeepsServing() throws {
        var federation = try Federation.start()
        defer { federation.stop() }
        try federation.addNode(csv: "site0.csv", options: ["--clientapp-memory-limit", "64"])
        try federation.addNode(csv: "site1.csv", options: ["--clientapp-timeout", "2"])
        // 16 million parameters: 64 MB of model, more than the first node's ClientApp may hold. The second node's
        // ClientApp is frozen, so it outlives its time limit however fast the machine is.
        let tooBig = try federation.submit(["model-parameters=16000000", "num-server-rounds=1"], app: "model-transfer")
        let deadline = Date().addingTimeInterval(60)
        var clientApp: Int32?
        while clientApp == nil, Date() < deadline, tooBig.isRunning {
            clientApp = federation.nodes[1].children.first { $0.commandLine.contains(" clientapp --input ") }?.pid
            usleep(2_000)
        }
        kill(try #require(clientApp, "node 1's ClientApp process was never seen:\n\(federation.nodes[1].printed)"), SIGSTOP)
        #expect(try tooBig.waitForExit() != 0, "\(tooBig.printed)")
        #expect(tooBig.printed.contains("memory limit is 64 MiB"), "\(tooBig.printed)")
        #expect(tooBig.printed.contains("longer than its time limit of 2.0 s"), "\(tooBig.printed)")
        let small = try federation.submit(["model-parameters=1000", "num-server-rounds=2"], app: "model-transfer")
        #expect(try small.waitForExit() == 0, "\(small.printed)")
        #expect(small.printed.contains("round 2:"), "\(small.printed)")
        #expect(federation.nodes.allSatisfy { $0.isRunning })
    }

    /// An operator's limits on ServerApp processes: a run whose ServerApp needs more memory than allowed, or that
    /// lasts longer, fails saying which limit it hit, and the SuperLink serves the next run.
    @Test func aServerAppOverItsMemoryOrTimeLimitFailsItsRunAndTheSuperLinkServesOn() throws {
        var federation = try Federation.start(options: ["--serverapp-memory-limit", "128", "--serverapp-timeout", "6"])
        defer { federation.stop() }
        try federation.addNode(csv: "site0.csv")
        // 40 million parameters: 160 MB of model, more than the ServerApp may hold.
        let tooBig = try federation.submit(["model-parameters=40000000", "num-server-rounds=1"], app: "model-transfer")
        #expect(try tooBig.waitForExit() != 0, "\(tooBig.printed)")
        #expect(tooBig.printed.contains("(its memory limit is 128 MiB: --serverapp-memory-limit)"), "\(tooBig.printed)")
        let tooLong = try federation.submit(["num-server-rounds=500", "min-available-nodes=1", "min-train-nodes=1", "min-evaluate-nodes=1"])
        #expect(try tooLong.waitForExit() != 0, "\(tooLong.printed)")
        #expect(tooLong.printed.contains("longer than the SuperLink's limit of 6.0 s"), "\(tooLong.printed)")
        #expect(tooLong.printed.contains("\n    1 "), "the run got going within its memory limit:\n\(tooLong.printed)")
        #expect(federation.superLink.isRunning && federation.nodes[0].isRunning)
    }

    /// SIGTERM stops each daemon gracefully: a SuperNode pulls nothing more, finishes the message in hand, pushes
    /// its reply and deactivates itself; a SuperLink fails the run it drives, saying why, and exits cleanly.
    @Test func sigtermStopsEachDaemonAfterTheWorkInHand() throws {
        var federation = try Federation.start()
        defer { federation.stop() }
        for site in 0..<2 { try federation.addNode(csv: "site\(site).csv") }
        let transfer = try federation.submit(["model-parameters=16000000", "num-server-rounds=1"], app: "model-transfer")
        // The message is in hand for certain: its ClientApp process is frozen while the node gets SIGTERM.
        let deadline = Date().addingTimeInterval(60)
        var clientApp: Int32?
        while clientApp == nil, Date() < deadline, transfer.isRunning {
            clientApp = federation.nodes[0].children.first { $0.commandLine.contains(" clientapp --input ") }?.pid
            usleep(2_000)
        }
        let frozen = try #require(clientApp, "node 0's ClientApp process was never seen:\n\(federation.nodes[0].printed)")
        kill(frozen, SIGSTOP)
        kill(federation.nodes[0].pid, SIGTERM)
        try federation.nodes[0].waitFor("shutdown requested")
        kill(frozen, SIGCONT)
        #expect(try federation.nodes[0].waitForExit() == 0, "\(federation.nodes[0].printed)")
        let nodeLog = federation.nodes[0].printed
        let requested = try #require(nodeLog.range(of: "shutdown requested"), "\(nodeLog)")
        let handled = try #require(nodeLog.range(of: "handled a message"), "\(nodeLog)")
        let stopping = try #require(nodeLog.range(of: "stopping: deactivating the node"), "\(nodeLog)")
        #expect(requested.lowerBound < handled.lowerBound && handled.lowerBound < stopping.lowerBound, "\(nodeLog)")
        #expect(try transfer.waitForExit() == 0, "\(transfer.printed)")
        #expect(transfer.printed.contains("2 replies, 0 failed"), "\(transfer.printed)")
        let listing = try PollenProcess.run(["nodes", "--superlink", federation.address] + federation.connection, in: federation.directory)
        #expect(listing.standardOutput.contains("offline"), "a stopped node is offline at once:\n\(listing.standardOutput)")

        let long = try federation.submit(["num-server-rounds=200", "min-available-nodes=1", "min-train-nodes=1", "min-evaluate-nodes=1"])
        defer { long.kill() }
        try long.waitFor(#"\n    1 "#)
        // SIGHUP reloads accounts; a SuperLink without any says so and serves on.
        kill(federation.superLink.pid, SIGHUP)
        try federation.superLink.waitFor("nothing to reload", timeoutSeconds: 10)
        #expect(federation.superLink.isRunning && long.isRunning)
        federation.superLink.terminate()
        #expect(try federation.superLink.waitForExit() == 0, "\(federation.superLink.printed)")
        let restarted = try Federation.start(port: federation.port, directory: federation.directory)
        defer { restarted.superLink.terminate() }
        let runs = try PollenProcess.run(["ls", "--superlink", restarted.address] + restarted.connection, in: federation.directory)
        #expect(runs.standardOutput.contains("shut down while this run was running"), "\(runs.standardOutput)")
    }

    /// A SuperNode whose SuperLink is gone stops soon after SIGTERM: neither its attempt to reconnect nor its
    /// goodbye to the SuperLink waits out the HTTP client's connect timeout (10 s each; it took 18 s).
    @Test func aSuperNodeWithoutItsSuperLinkStopsSoonAfterSIGTERM() throws {
        var federation = try Federation.start()
        defer { federation.stop() }
        try federation.addNode(csv: "site0.csv")
        federation.superLink.kill()
        let node = federation.nodes[0]
        try node.waitFor("SuperLink unavailable; reconnecting")
        // Past the first pause (0.5 s): the node is trying to register again.
        usleep(1_500_000)
        kill(node.pid, SIGTERM)
        #expect(try node.waitForExit(timeoutSeconds: 8) == 0, "\(node.printed)")
        #expect(node.printed.contains("stopping: deactivating the node"), "\(node.printed)")
    }

    /// Each run's ServerApp is a process of its own: one that dies fails its run with the reason, and the SuperLink
    /// and its nodes serve the next run.
    @Test func aServerAppProcessThatDiesFailsItsRunAndTheSuperLinkKeepsServing() throws {
        var federation = try Federation.start()
        defer { federation.stop() }
        for site in 0..<2 { try federation.addNode(csv: "site\(site).csv") }
        let doomed = try federation.submit(["num-server-rounds=200"])
        try doomed.waitFor(#"\n    1 "#)
        let serverApps = federation.superLink.children.filter { $0.commandLine.contains("serverapp") }
        #expect(serverApps.count == 1, "\(federation.superLink.children)")
        for serverApp in serverApps { kill(serverApp.pid, SIGKILL) }
        #expect(try doomed.waitForExit() != 0)
        #expect(doomed.printed.contains("the ServerApp process crashed with signal 9"), "\(doomed.printed)")
        #expect(federation.superLink.isRunning)
        let next = try federation.submit(["num-server-rounds=2"])
        #expect(try next.waitForExit() == 0, "\(next.printed)")
        #expect(serverAppsEnd(federation), "a finished run's ServerApp process is gone")

        // A run the researcher stops has its ServerApp process stopped too.
        let stopped = try federation.submit(["num-server-rounds=200"])
        defer { stopped.kill() }
        let runID = try #require(try stopped.waitFor(#"run [0-9]+ submitted"#).split(separator: " ").dropFirst().first.map(String.init))
        try stopped.waitFor(#"\n    1 "#)
        let stop = try PollenProcess.run(["stop", runID, "--superlink", federation.address] + federation.connection, in: federation.directory)
        #expect(stop.status == 0, "\(stop.standardError)")
        #expect(serverAppsEnd(federation), "a stopped run's ServerApp process is gone")
        let listing = try PollenProcess.run(["ls", "--superlink", federation.address] + federation.connection, in: federation.directory)
        #expect(listing.standardOutput.contains("stopped by the researcher"), "\(listing.standardOutput)")
    }

    /// Whether the SuperLink's ServerApp processes end within a minute (they exit, or are killed, after their run).
    func serverAppsEnd(_ federation: Federation) -> Bool {
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            if federation.superLink.children.allSatisfy({ !$0.commandLine.contains("serverapp") }) { return true }
            usleep(50_000)
        }
        return false
    }

    @Test func aSuperLinkKilledMidRunFailsThatRunWithAReasonAndLosesNothingElse() throws {
        var federation = try Federation.start()
        for site in 0..<2 { try federation.addNode(csv: "site\(site).csv") }
        let first = try federation.submit(["num-server-rounds=2"])
        #expect(try first.waitForExit() == 0, "\(first.printed)")
        let second = try federation.submit(["num-server-rounds=200"])
        try second.waitFor(#"\n    1 "#)
        federation.superLink.kill()
        second.kill()

        let restarted = try Federation.start(port: federation.port, directory: federation.directory)
        defer {
            federation.nodes.forEach { $0.terminate() }
            restarted.superLink.terminate()
        }
        let listing = try PollenProcess.run(["ls", "--superlink", restarted.address] + restarted.connection, in: federation.directory)
        #expect(listing.standardOutput.contains("completed"), "\(listing.standardOutput)")
        #expect(listing.standardOutput.contains("stopped while this run was running"), "\(listing.standardOutput)")
        // The SuperNodes reconnect by themselves and serve the next run.
        let third = try restarted.submit(["num-server-rounds=2"])
        #expect(try third.waitForExit() == 0, "\(third.printed)")
    }
}

/// A certificate authority and a server certificate for 127.0.0.1, made with openssl for one test.
struct TestCertificates {
    let authority: String
    let serverCertificate: String
    let serverKey: String
    /// A client certificate the authority signed, for mutual TLS.
    let clientCertificate: String
    let clientKey: String

    static func make(in directory: URL) throws -> TestCertificates {
        func path(_ name: String) -> String { directory.appendingPathComponent(name).path }
        try "subjectAltName=IP:127.0.0.1,DNS:localhost\n".write(toFile: path("san.ext"), atomically: true, encoding: .utf8)
        try "extendedKeyUsage=clientAuth\n".write(toFile: path("client.ext"), atomically: true, encoding: .utf8)
        let steps: [[String]] = [
            ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
             "-subj", "/CN=Pollen Test CA", "-keyout", path("ca.key"), "-out", path("ca.pem")],
            ["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=127.0.0.1",
             "-keyout", path("server.key"), "-out", path("server.csr")],
            ["x509", "-req", "-in", path("server.csr"), "-CA", path("ca.pem"), "-CAkey", path("ca.key"), "-CAcreateserial",
             "-days", "2", "-extfile", path("san.ext"), "-out", path("server.pem")],
            ["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=site-0",
             "-keyout", path("client.key"), "-out", path("client.csr")],
            ["x509", "-req", "-in", path("client.csr"), "-CA", path("ca.pem"), "-CAkey", path("ca.key"), "-CAcreateserial",
             "-days", "2", "-extfile", path("client.ext"), "-out", path("client.pem")],
        ]
        for arguments in steps {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["openssl"] + arguments
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            process.waitUntilExit()
            guard process.terminationStatus == 0 else { throw TestFailure("openssl \(arguments.prefix(2)) failed") }
        }
        return TestCertificates(
            authority: path("ca.pem"), serverCertificate: path("server.pem"), serverKey: path("server.key"),
            clientCertificate: path("client.pem"), clientKey: path("client.key")
        )
    }
}

@Suite(.serialized) struct TLSDeploymentTests {
    @Test func aRunOverTLSWithATestAuthority() throws {
        let directory = try freshDirectory()
        let certificates = try TestCertificates.make(in: directory)
        var federation = try Federation.start(directory: directory, tls: certificates)
        defer { federation.stop() }
        for site in 0..<2 { try federation.addNode(csv: "site\(site).csv") }
        let run = try federation.submit(["num-server-rounds=3"])
        #expect(try run.waitForExit() == 0, "\(run.printed)")
        #expect(finalAccuracy(run.printed).map { $0 > 0.9 } == true, "\(run.printed)")

        // A client that does not trust the authority is refused, and plain HTTP gets nowhere.
        let untrusting = try PollenProcess.run(["ls", "--superlink", federation.address], in: directory)
        #expect(untrusting.status != 0)
        #expect(untrusting.standardError.contains("cannot reach the SuperLink"), "\(untrusting.standardError)")
        let plain = try PollenProcess.run(["ls", "--insecure", "--superlink", federation.address], in: directory)
        #expect(plain.status != 0)

        // A renewed certificate (here from another authority) is served after SIGHUP, with no restart; a certificate
        // whose key has not been replaced yet is refused, and the current pair stays.
        let renewed = try TestCertificates.make(in: try freshDirectory())
        func ls(trusting authority: String) throws -> PollenProcess {
            try PollenProcess.run(["ls", "--superlink", federation.address, "--root-certificates", authority], in: directory)
        }
        let files = FileManager.default
        try files.removeItem(atPath: certificates.serverCertificate)
        try files.copyItem(atPath: renewed.serverCertificate, toPath: certificates.serverCertificate)
        kill(federation.superLink.pid, SIGHUP)
        let refused = try federation.superLink.waitFor("[^\n]*TLS certificate not reloaded[^\n]*", timeoutSeconds: 10)
        #expect(refused.contains("does not belong to the certificate"), "\(refused)")
        #expect(try ls(trusting: certificates.authority).status == 0)
        try files.removeItem(atPath: certificates.serverKey)
        try files.copyItem(atPath: renewed.serverKey, toPath: certificates.serverKey)
        kill(federation.superLink.pid, SIGHUP)
        try federation.superLink.waitFor("TLS certificate reloaded", timeoutSeconds: 10)
        let renewedTrust = try ls(trusting: renewed.authority)
        #expect(renewedTrust.status == 0, "\(renewedTrust.standardError)")
        #expect(try ls(trusting: certificates.authority).status != 0)
    }

    /// With `--ssl-client-ca-certfile`, only clients holding a certificate the authority signed get through: a
    /// SuperNode and a researcher's CLI (its settings in a connections file) without one are refused.
    @Test func mutualTLSAdmitsOnlyClientsWithACertificateFromTheAuthority() throws {
        let directory = try freshDirectory()
        let certificates = try TestCertificates.make(in: directory)
        var federation = try Federation.start(
            directory: directory, tls: certificates, options: ["--ssl-client-ca-certfile", certificates.authority]
        )
        defer { federation.stop() }
        try federation.addNode(csv: "site0.csv", waitForConnection: false)
        try federation.nodes[0].waitFor("cannot connect yet")
        #expect(!federation.nodes[0].printed.contains("connected to the SuperLink"))
        let clientIdentity = ["--client-certificate", certificates.clientCertificate, "--client-key", certificates.clientKey]
        try federation.addNode(csv: "site1.csv", options: clientIdentity)

        // The CLI reads its connection, client certificate included, from POLLEN_HOME/config.toml.
        let home = try connectionsHome("home", in: directory, """
            [superlink]
            default = "test"

            [superlink.test]
            address = "\(federation.address)"
            root-certificates = "\(certificates.authority)"
            client-certificate = "\(certificates.clientCertificate)"
            client-key = "\(certificates.clientKey)"

            [superlink.anonymous]
            address = "\(federation.address)"
            root-certificates = "\(certificates.authority)"
            """)
        let environment = ["POLLEN_HOME": home.path]
        let nodes = try PollenProcess.run(["nodes"], in: directory, environment: environment)
        #expect(nodes.status == 0, "\(nodes.standardError)")
        #expect(nodes.standardOutput.components(separatedBy: "online").count - 1 == 1, "only the node with a certificate:\n\(nodes.standardOutput)")
        let anonymous = try PollenProcess.run(["ls", "--connection", "anonymous"], in: directory, environment: environment)
        #expect(anonymous.status != 0)
        #expect(anonymous.standardError.contains("cannot reach the SuperLink"), "\(anonymous.standardError)")
    }

    @Test func aSuperLinkWithoutCertificatesOrInsecureRefusesToStart() throws {
        let run = try PollenProcess.run(["superlink", "--port", "0", "--database", ":memory:"], in: try freshDirectory())
        #expect(run.status != 0)
        #expect(run.standardError.contains("--ssl-certfile"), "\(run.standardError)")
    }
}
