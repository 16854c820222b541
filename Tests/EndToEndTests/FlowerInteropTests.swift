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

    /// What Flower's processes run with: no telemetry, and the venv first on the path (Flower's daemons start
    /// `flower-superexec`, `flwr-serverapp` and `flwr-clientapp` by name).
    static func environment(home: URL) -> [String: String] {
        [
            "FLWR_TELEMETRY_ENABLED": "0", "FLWR_HOME": home.path,
            "PATH": binDirectory!.path + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"),
        ]
    }

    /// Starts Flower's `executable` in `directory/home`, which is also its `FLWR_HOME`. Stop it with
    /// `killWithDescendants()`: Flower's daemons do not stop promptly on SIGTERM.
    static func start(_ executable: String, _ arguments: [String], in directory: URL, home: String) throws -> RunningProcess {
        let folder = directory.appendingPathComponent(home)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        return try RunningProcess(
            arguments, in: folder, executable: binDirectory!.appendingPathComponent(executable), environment: environment(home: folder)
        )
    }

    /// Writes a P-384 key pair in OpenSSH's formats to `path` and `path.pub`, as `ssh-keygen -t ecdsa -b 384` makes
    /// the SuperNode keys of Flower's documentation (with the `cryptography` package Flower depends on).
    static func makeOpenSSHKey(at path: String) throws {
        let script = """
            import sys
            from cryptography.hazmat.primitives import serialization as s
            from cryptography.hazmat.primitives.asymmetric import ec
            key = ec.generate_private_key(ec.SECP384R1())
            open(sys.argv[1], "wb").write(key.private_bytes(s.Encoding.PEM, s.PrivateFormat.OpenSSH, s.NoEncryption()))
            open(sys.argv[1] + ".pub", "wb").write(key.public_key().public_bytes(s.Encoding.OpenSSH, s.PublicFormat.OpenSSH))
            """
        let made = try PollenProcess.run(
            ["-c", script, path], in: URL(fileURLWithPath: path).deletingLastPathComponent(), executable: binDirectory!.appendingPathComponent("python")
        )
        guard made.status == 0 else { throw TestFailure("cannot make an OpenSSH key: \(made.standardError)") }
    }
}

/// Flower and Pollen in one federation: Flower's own SuperNode connects to a Pollen SuperLink over the Fleet API,
/// authenticating with Flower's signature headers (over plain HTTP, and over TLS with a key its operator registered);
/// and Flower's SuperLink, driving a Flower ServerApp, runs its rounds over TLS on Pollen SuperNodes beside a
/// Flower one. (Flower 1.42 restricts its own SuperLink to registered keys only on its gRPC transport, which Pollen
/// does not speak, so that direction runs without the restriction.)
@Suite(.serialized, .enabled(if: FlowerInstall.binDirectory != nil, "Flower 1.42 could not be installed (scripts/flower-venv failed); interop tests skipped"))
struct FlowerInteropTests {
    @Test func flowersSuperNodeRegistersActivatesAndPolls() throws {
        let federation = try Federation.start()
        defer { federation.stop() }
        let flower = try FlowerInstall.start("flower-supernode", [
            "--insecure", "--superlink", federation.address, "--isolation", "process", "--port", String(try freePort()),
        ], in: federation.directory, home: "flower-supernode")
        defer { flower.killWithDescendants() }

        func nodes() throws -> String {
            try PollenProcess.run(["nodes", "--insecure", "--superlink", federation.address], in: federation.directory).standardOutput
        }
        let deadline = Date().addingTimeInterval(60)
        while !(try nodes()).contains("online"), Date() < deadline { usleep(200_000) }
        let listing = try nodes()
        #expect(listing.contains("online"), "Flower's SuperNode did not come online:\n\(listing)\n\(flower.printed)")

        // It keeps polling with signed requests; the Pollen SuperLink keeps it online.
        usleep(1_500_000)
        #expect(try nodes().contains("online"))
    }

    /// `flwr run` of a Flower app (the model-transfer benchmark's, `bench/transfer/flower/app`) against a Pollen
    /// SuperLink: the SuperLink stores the app bundle and runs its ServerApp with Flower's own `flwr-serverapp` over
    /// its app runtime API. Three SuperNodes answer: Flower's, which fetches the bundle and runs the app's Python
    /// ClientApp; a Pollen one whose custodian allowed Flower apps (`--flower-clientapp`), which runs the same Python
    /// ClientApp with Flower's `flwr-clientapp` over its own runtime API; and a Pollen one that answers with the
    /// same app built in (`app = "model-transfer"`). Each round counts three results, and the final model is the
    /// initial one plus 0.001 a round.
    @Test func flwrRunOfAFlowerAppRunsOnAPollenSuperLink() throws {
        let bin = FlowerInstall.binDirectory!
        var federation = try Federation.start(options: ["--flower-serverapp", bin.appendingPathComponent("flwr-serverapp").path])
        defer { federation.stop() }
        try federation.addNode(csv: "site0.csv")
        try federation.addNode(csv: "site1.csv", options: ["--flower-clientapp", bin.appendingPathComponent("flwr-clientapp").path])
        let flower = try FlowerInstall.start("flower-supernode", [
            "--insecure", "--superlink", federation.address, "--isolation", "subprocess", "--host", "127.0.0.1", "--port", String(try freePort()),
        ], in: federation.directory, home: "flower-supernode")
        defer { flower.killWithDescendants() }
        func pollen(_ arguments: [String]) throws -> PollenProcess {
            try PollenProcess.run(arguments + ["--superlink", federation.address] + federation.connection, in: federation.directory)
        }
        let deadline = Date().addingTimeInterval(60)
        while (try pollen(["nodes"])).standardOutput.components(separatedBy: "online").count - 1 < 3, Date() < deadline { usleep(200_000) }

        let cli = try connectionsHome("flwr", in: federation.directory, """
            [superlink]
            default = "pollen"
            [superlink.pollen]
            address = "\(federation.address)"
            insecure = true
            """)
        let app = federation.directory.appendingPathComponent("app")
        try FileManager.default.copyItem(at: Federation.repositoryRoot.appendingPathComponent("bench/transfer/flower/app"), to: app)
        // Flower's ClientApp ignores `app`, which tells the Pollen SuperNode which built-in app to answer with; Flower
        // refuses a setting its app does not declare.
        let manifest = app.appendingPathComponent("pyproject.toml")
        try (try String(contentsOf: manifest, encoding: .utf8) + "app = \"tabular\"\n").write(to: manifest, atomically: true, encoding: .utf8)
        let parameters = 3_000_000
        // `--stream` follows the run's log as Flower's CLI does, over the Control API's framed stream.
        let run = try RunningProcess([
            "run", app.path, "pollen", "--stream", "--run-config", "num-server-rounds=2 model-parameters=\(parameters) initial-model=\"random\" app=\"model-transfer\"",
        ], in: cli, executable: bin.appendingPathComponent("flwr"), environment: FlowerInstall.environment(home: cli).merging(["COLUMNS": "300"]) { $1 })
        defer { run.kill() }
        let status = try run.waitForExit(timeoutSeconds: 120)
        let log = run.printed
        #expect(status == 0, "flwr run failed:\n\(log)\n\(federation.superLink.printed)")
        #expect(log.components(separatedBy: "Received 3 results and 0 failures").count - 1 == 2, "\(log)\n\(federation.nodes[1].printed)")
        for (node, clientApp) in [(0, "built-in"), (1, "flower pollenbench/transferbench")] {
            let handled = federation.nodes[node].printed.split(separator: "\n").filter { $0.contains("handled a message") }
            #expect(handled.count == 2 && handled.allSatisfy { $0.contains("clientapp=\(clientApp)") && $0.contains("failed=false") }, "\(handled)")
        }
        let listing = try pollen(["ls"]).standardOutput
        #expect(listing.contains("completed"), "\(listing)")

        // The initial model's first and last parameter, as the ServerApp draws them, plus two rounds of 0.001.
        let initial = try PollenProcess.run([
            "-c", "import numpy as np; w = np.random.default_rng(0).uniform(-1, 1, \(parameters)).astype(np.float32); print(w[0], w[-1])",
        ], in: federation.directory, executable: bin.appendingPathComponent("python")).standardOutput.split(separator: " ").compactMap {
            Double($0.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        let total = log.range(of: #"TOTAL [0-9.]+ w\[0\]=-?[0-9.]+ w\[-1\]=-?[0-9.]+"#, options: .regularExpression).map { String(log[$0]) } ?? ""
        let final = total.split(separator: "=").dropFirst().compactMap { Double($0.split(separator: " ").first ?? "") }
        try #require(initial.count == 2 && final.count == 2, "no final model in:\n\(log)")
        for (start, end) in zip(initial, final) { #expect(abs(end - (start + 0.002)) < 1e-5, "\(total) from \(initial)") }

    }

    /// The other way round: a Flower SuperNode in a Pollen federation, beside two Pollen SuperNodes, over TLS with a
    /// test authority, on a SuperLink that admits only the keys its operator registered. The Flower SuperNode and
    /// one Pollen SuperNode use keys made as Flower's documentation has sites make them (OpenSSH, P-384), registered
    /// in that form; the other Pollen SuperNode a PEM key of its own. The SuperLink serves each run an app bundle that
    /// Flower installs and runs: the model-transfer app trains there as on Pollen's nodes (three replies a round; the
    /// final model is zeros plus 0.001 a round), and so does the tabular app, on the CSV the Flower node's config
    /// names.
    @Test func aPollenSuperLinkRunsRoundsOnAFlowerSuperNodeBesidePollenOnes() throws {
        let directory = try freshDirectory()
        let certificates = try TestCertificates.make(in: directory)
        var federation = try Federation.start(directory: directory, tls: certificates, options: ["--require-known-nodes"])
        defer { federation.stop() }
        func path(_ name: String) -> String { directory.appendingPathComponent(name).path }
        try FlowerInstall.makeOpenSSHKey(at: path("flower.key"))
        try FlowerInstall.makeOpenSSHKey(at: path("site0.key"))
        _ = try PollenProcess.run(["supernode", "--key", path("site1.key"), "--print-public-key", "--insecure"], in: directory)
        for key in ["flower.key", "site0.key", "site1.key"] {
            let registered = try PollenProcess.run(["nodes", "--superlink", federation.address, "--register", path(key + ".pub")] + federation.connection, in: directory)
            try #require(registered.standardOutput.contains("registered node"), "\(key): \(registered.standardError)")
        }
        try federation.addNode(csv: "site0.csv", key: path("site0.key"))
        try federation.addNode(csv: "site1.csv", key: path("site1.key"))
        let flower = try FlowerInstall.start("flower-supernode", [
            "--root-certificates", certificates.authority, "--auth-supernode-private-key", path("flower.key"),
            "--node-config", "data-path='\(path("site2.csv"))' label='diagnosis'",
            "--superlink", federation.address, "--isolation", "subprocess", "--host", "127.0.0.1", "--port", String(try freePort()),
        ], in: federation.directory, home: "flower-supernode")
        defer { flower.killWithDescendants() }
        func online() throws -> Int {
            let listing = try PollenProcess.run(["nodes", "--superlink", federation.address] + federation.connection, in: federation.directory).standardOutput
            return listing.components(separatedBy: "online").count - 1
        }
        let deadline = Date().addingTimeInterval(60)
        while try online() < 3, Date() < deadline { usleep(200_000) }
        try #require(try online() == 3, "Flower's SuperNode did not come online:\n\(flower.printed)")

        let transfer = try federation.submit(["model-parameters=300000", "num-server-rounds=2", "min-available-nodes=3"], app: "model-transfer")
        #expect(try transfer.waitForExit(timeoutSeconds: 120) == 0, "\(transfer.printed)\n\(flower.printed)")
        for round in 1...2 {
            #expect(transfer.printed.range(of: "round \(round): [0-9.]+ s, 3 replies, 0 failed", options: .regularExpression) != nil, "\(transfer.printed)")
        }
        #expect(transfer.printed.contains("final model: first parameter 0.002000, last 0.002000"), "\(transfer.printed)")

        // The default app, each node on its third of the breast-cancer set: the Flower node's ClientApp trains as
        // Pollen's does (an oracle test compares them step by step), so every round counts three replies and no
        // failure, and two rounds take the model from the majority class's 63% to over 90%. (Flower's node polls
        // every 3 s and starts a Python process per message, so a round takes about 10 s.)
        let tabular = try federation.submit(["num-server-rounds=2", "min-available-nodes=3"])
        #expect(try tabular.waitForExit(timeoutSeconds: 120) == 0, "\(tabular.printed)\n\(flower.printed)")
        let rounds = tabular.printed.split(separator: "\n").filter { $0.range(of: #"^ +[12] "#, options: .regularExpression) != nil }
        #expect(rounds.count == 2 && rounds.allSatisfy { $0.range(of: #" 3 +0 +[0-9.]+$"#, options: .regularExpression) != nil }, "\(tabular.printed)")
        #expect((finalAccuracy(tabular.printed) ?? 0) > 0.9, "\(tabular.printed)\n\(flower.printed)")
    }

    /// `flwr run` of the model-transfer benchmark's Flower app (`bench/transfer/flower/app`: FedAvg of one random
    /// float32 array, to which every node adds 0.001) on Flower's SuperLink, with three SuperNodes: Flower's, a
    /// Pollen one running the same app built in, and a Pollen one whose ClientApp always outlives its time limit.
    /// Every round counts two results and the third node's failure, with its reason; the final model is the
    /// initial one plus 0.001 a round, at its first and last parameter (in the first and last of its three chunks).
    /// Everything runs over TLS with a test authority, Flower's runtime API included.
    @Test func flowersSuperLinkRunsRoundsOnPollenSuperNodesBesideAFlowerOne() throws {
        let bin = FlowerInstall.binDirectory!
        let directory = try freshDirectory()
        let certificates = try TestCertificates.make(in: directory)
        func flower(_ executable: String, _ arguments: [String], home: String) throws -> RunningProcess {
            try FlowerInstall.start(executable, arguments, in: directory, home: home)
        }
        let port = try freePort()
        let superLink = try flower("flower-superlink", [
            "--ssl-certfile", certificates.serverCertificate, "--ssl-keyfile", certificates.serverKey, "--ssl-ca-certfile", certificates.authority,
            "--isolation", "subprocess", "--host", "127.0.0.1", "--port", String(port),
            "--disable-runtime-dependency-installation",
        ], home: "superlink")
        var daemons = [superLink]
        defer { for daemon in daemons { daemon.killWithDescendants() } }
        try superLink.waitFor("Uvicorn running on", timeoutSeconds: 90)
        let address = "127.0.0.1:\(port)"
        daemons.append(try flower("flower-supernode", [
            "--root-certificates", certificates.authority, "--superlink", address, "--isolation", "subprocess", "--host", "127.0.0.1", "--port", String(try freePort()),
        ], home: "flower-supernode"))
        for options in [[], ["--clientapp-timeout", "0.01"]] {
            let node = try RunningProcess(["supernode", "--root-certificates", certificates.authority, "--superlink", address] + options, in: directory)
            try node.waitFor("connected to the SuperLink")
            daemons.append(node)
        }

        // The CLI's connection to Flower's SuperLink, in its FLWR_HOME.
        let cli = try connectionsHome("cli", in: directory, """
            [superlink]
            default = "local"
            [superlink.local]
            address = "\(address)"
            root-certificates = "\(certificates.authority)"
            """)
        func flwr(_ arguments: [String]) throws -> PollenProcess {
            try PollenProcess.run(arguments, in: cli, environment: FlowerInstall.environment(home: cli), executable: bin.appendingPathComponent("flwr"))
        }
        let deadline = Date().addingTimeInterval(90)
        var listing = ""
        repeat {
            listing = try flwr(["supernode", "ls", "local", "--format", "json"]).standardOutput
            if listing.components(separatedBy: "\"online\"").count - 1 >= 3 { break }
            usleep(500_000)
        } while Date() < deadline
        #expect(listing.components(separatedBy: "\"online\"").count - 1 == 3, "not every SuperNode came online:\n\(listing)")

        let app = directory.appendingPathComponent("app")
        try FileManager.default.copyItem(at: Federation.repositoryRoot.appendingPathComponent("bench/transfer/flower/app"), to: app)
        // `app` is for the Pollen SuperNodes, which read a run's settings from `get-run`; Flower's ignore it, but
        // refuse a setting the app does not declare.
        let manifest = app.appendingPathComponent("pyproject.toml")
        try (try String(contentsOf: manifest, encoding: .utf8) + "app = \"tabular\"\n").write(to: manifest, atomically: true, encoding: .utf8)
        let parameters = 3_000_000
        let run = try RunningProcess([
            "run", app.path, "local", "--stream",
            "--run-config", "num-server-rounds=2 model-parameters=\(parameters) initial-model=\"random\" app=\"model-transfer\"",
        ], in: cli, executable: bin.appendingPathComponent("flwr"), environment: FlowerInstall.environment(home: cli))
        daemons.append(run)
        // A reply Flower's SuperLink refused would leave the ServerApp waiting for it, with no end.
        let status = try run.waitForExit(timeoutSeconds: 120)
        let log = run.printed
        #expect(status == 0, "flwr run failed:\n\(log)")
        #expect(log.components(separatedBy: "Received 2 results and 1 failures").count - 1 == 2, "\(log)")
        #expect(log.contains("time limit"), "the failure's reason did not reach Flower's ServerApp:\n\(log)")

        // The initial model's first and last parameter, as the ServerApp draws them, plus two rounds of 0.001.
        let python = bin.appendingPathComponent("python")
        let initial = try PollenProcess.run([
            "-c", "import numpy as np; w = np.random.default_rng(0).uniform(-1, 1, \(parameters)).astype(np.float32); print(w[0], w[-1])",
        ], in: directory, executable: python).standardOutput.split(separator: " ").compactMap { Double($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        let total = log.range(of: #"TOTAL [0-9.]+ w\[0\]=-?[0-9.]+ w\[-1\]=-?[0-9.]+"#, options: .regularExpression).map { String(log[$0]) } ?? ""
        let final = total.split(separator: "=").dropFirst().compactMap { Double($0.split(separator: " ").first ?? "") }
        try #require(initial.count == 2 && final.count == 2, "no final model in:\n\(log)")
        for (start, end) in zip(initial, final) { #expect(abs(end - (start + 0.002)) < 1e-5, "\(total) from \(initial)") }
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
