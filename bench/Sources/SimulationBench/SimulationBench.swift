import Foundation
import Pollen
import PollenApps
import Synchronization

/// The simulation benchmark's workload (see `simulation/README.md`): softmax regression on synthetic data,
/// FedAvg over every client each round. Prints one JSON line, like the Flower and NumPy scripts beside it.
@main
struct SimulationBench {
    static let features = 64
    static let classes = 10
    static let testSamples = 2_000
    static let testSeed: UInt64 = 999_999

    static func main() async throws {
        let options = try Options(CommandLine.arguments.dropFirst())
        let blobs = SyntheticBlobs(featureCount: features, classCount: classes, seed: options.seed)
        let samples = options.samples
        let seed = options.seed
        // A node holds its seed only; its 500 rows exist while it trains, as in the Flower client.
        let clientApp = TabularClientApp.make { context in
            let partition = UInt64(context.nodeConfig["partition-id"]?.intValue ?? 0)
            var generator = SeededGenerator(seed: seed, stream: [partition])
            let train = blobs.sample(rows: samples, generator: &generator)
            return NodeData(train: train, test: train.subset([]))
        }
        let appConfig = try TabularAppConfig(runConfig: [
            "model": "softmax", "learning-rate": 0.1, "local-epochs": 1, "batch-size": 32, "standardize": false,
            "seed": .int(Int64(seed)), "fraction-evaluate": 0.0, "num-server-rounds": .int(Int64(options.rounds)),
        ])
        let network = try NeuralNetwork(kind: .softmaxRegression, featureCount: features, classCount: classes)
        let trainConfig = ConfigRecord(appConfig.runConfig.map { ($0.key, $0.value) } + [("num-classes", .int(Int64(classes)))])

        let result = Mutex<StrategyResult?>(nil)
        let roundSeconds = Mutex<[Double]>([])
        let serverApp = ServerApp { grid, _ in
            let strategy = try FedAvg(
                fractionTrain: 1, fractionEvaluate: 0, minTrainNodes: options.clients, minAvailableNodes: options.clients, seed: seed
            )
            let outcome = try await strategy.start(
                grid: grid, initialArrays: network.arrayRecord(from: network.initialParameters(seed: seed)),
                options: RunOptions(rounds: options.rounds, trainConfig: trainConfig),
                onRound: { report in
                    roundSeconds.withLock { $0.append(report.seconds) }
                    let loss = report.train.metrics?["train-loss"]?.doubleValue ?? .nan
                    FileHandle.standardError.write(Data(String(
                        format: "round %d: %.3f s, train-loss %.6f, %d replies\n", report.round, report.seconds, loss, report.train.tally.succeeded
                    ).utf8))
                }
            )
            result.withLock { $0 = outcome }
        }
        let simulation = try Simulation(
            clientApp: clientApp,
            options: SimulationOptions(nodeCount: options.clients, seed: seed, workerCount: options.workers ?? SimulationOptions.defaultWorkerCount)
        )
        let clock = ContinuousClock()
        let elapsed = try await clock.measure { try await simulation.run(serverApp) }
        guard let final = result.withLock({ $0 }) else { fatalError("the ServerApp produced no result") }

        var testGenerator = SeededGenerator(seed: testSeed)
        let test = blobs.sample(rows: testSamples, generator: &testGenerator)
        let accuracy = try Training.evaluate(network, parameters: network.parameters(from: final.arrays), on: test).accuracy
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
        let report: [String: Any] = [
            "system": "pollen", "clients": options.clients, "rounds": options.rounds,
            "seconds": (seconds * 1000).rounded() / 1000,
            "round_seconds": (roundSeconds.withLock { $0.reduce(0, +) } * 1000).rounded() / 1000,
            "peak_rss_mb": peakResidentMegabytes(), "accuracy": accuracy,
        ]
        let json = try JSONSerialization.data(withJSONObject: report, options: [.sortedKeys])
        print(String(decoding: json, as: UTF8.self))
    }

    /// The process's peak resident set (VmHWM), in MB.
    static func peakResidentMegabytes() -> Double {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
              let kilobytes = Double(line.split(separator: " ").dropFirst().first ?? "")
        else { return -1 }
        return (kilobytes / 1024 * 10).rounded() / 10
    }
}

/// `--clients N --samples N --rounds N --seed N --workers N`.
struct Options {
    var clients = 1_000
    var samples = 500
    var rounds = 10
    var seed: UInt64 = 0
    var workers: Int?

    init(_ arguments: ArraySlice<String>) throws {
        var iterator = arguments.makeIterator()
        while let flag = iterator.next() {
            guard let value = iterator.next(), let number = Int(value), number >= 0 else {
                throw BenchError("\(flag) needs a non-negative whole number")
            }
            switch flag {
            case "--clients": clients = number
            case "--samples": samples = number
            case "--rounds": rounds = number
            case "--seed": seed = UInt64(number)
            case "--workers": workers = number
            default: throw BenchError("unknown option \(flag); use --clients, --samples, --rounds, --seed, --workers")
            }
        }
    }
}

struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
