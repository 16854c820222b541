import PollenCore
import PollenSimulation
import PollenStrategy
import Synchronization
import Testing

/// A ClientApp whose "model" is one float per node: it replies with `arrays + partition-id` and counts its
/// messages in its state.
func countingClientApp() -> ClientApp {
    var app = ClientApp()
    app.on(.train) { message, context in
        let partition = Float(context.nodeConfig["partition-id"]!.intValue!)
        var value = try message.content![arrays: "arrays"]!["x"]!.scalars(as: Float.self)
        value[0] += partition
        let calls = (context.state[metrics: "calls"]?["n"]?.doubleValue ?? 0) + 1
        context.state[metrics: "calls"] = ["n": .double(calls)]
        var reply = RecordDict()
        reply[arrays: "arrays"] = ["x": try Tensor(value)]
        reply[metrics: "metrics"] = ["num-examples": .int(Int64(partition) + 1), "calls": .double(calls)]
        return reply
    }
    return app
}

/// Runs `rounds` of FedAvg over the counting app and returns the strategy's result.
func runCounting(nodes: Int, workers: Int, rounds: Int, failureRate: Double = 0, timeoutRate: Double = 0) async throws -> StrategyResult {
    let result = Mutex<StrategyResult?>(nil)
    let simulation = try Simulation(
        clientApp: countingClientApp(),
        options: SimulationOptions(nodeCount: nodes, seed: 7, failureRate: failureRate, timeoutRate: timeoutRate, workerCount: workers)
    )
    try await simulation.run(ServerApp { grid, _ in
        let strategy = try FedAvg(fractionEvaluate: 0, minAvailableNodes: 1)
        let outcome = try await strategy.start(grid: grid, initialArrays: ["x": try Tensor([0] as [Float])], options: RunOptions(rounds: rounds))
        result.withLock { $0 = outcome }
    })
    return try #require(result.withLock { $0 })
}

@Suite struct SimulationTests {
    @Test func everyNodeTrainsEveryRoundAndKeepsItsState() async throws {
        let result = try await runCounting(nodes: 50, workers: 4, rounds: 3)
        #expect(result.rounds.allSatisfy { $0.train.tally.succeeded == 50 })
        // Each node has been called once per round, so the average of its call count is the round number.
        #expect(result.rounds.map { $0.train.metrics?["calls"]?.doubleValue } == [1, 2, 3])
        // Each round adds Σ (p+1)·p / Σ (p+1) over p in 0..<50 = 41,650 / 1,275 = 32.67 to x: 98 after three.
        let x = try result.arrays["x"]!.scalars(as: Float.self)[0]
        #expect(abs(x - 98) < 1e-3)
    }

    @Test func resultsDoNotDependOnTheNumberOfWorkers() async throws {
        let one = try await runCounting(nodes: 300, workers: 1, rounds: 2)
        let many = try await runCounting(nodes: 300, workers: 8, rounds: 2)
        #expect(one.arrays == many.arrays)
    }

    @Test func injectedFailuresAreCountedNotThrown() async throws {
        let result = try await runCounting(nodes: 400, workers: 2, rounds: 2, failureRate: 0.1, timeoutRate: 0.05)
        for round in result.rounds {
            let total = round.train.tally.succeeded + round.train.tally.failed
            #expect(total == 400)
            // 15% of 400 is 60; a binomial spread of about 7.
            #expect((30...90).contains(round.train.tally.failed))
            #expect(round.train.skippedReason == nil)
        }
        let reasons = result.rounds.flatMap(\.train.tally.failureReasons).joined()
        #expect(reasons.contains("injected"))
    }

    @Test func invalidOptionsAreRejected() {
        #expect(throws: SimulationError.self) { try Simulation(clientApp: ClientApp(), options: SimulationOptions(nodeCount: 0)) }
        #expect(throws: SimulationError.self) {
            try Simulation(clientApp: ClientApp(), options: SimulationOptions(nodeCount: 3, failureRate: 0.8, timeoutRate: 0.5))
        }
    }

    @Test func messagesToUnknownNodesAreAnError() async throws {
        let simulation = try Simulation(clientApp: countingClientApp(), options: SimulationOptions(nodeCount: 2))
        await #expect(throws: SimulationError.self) {
            try await simulation.run(ServerApp { grid, _ in
                _ = try await grid.sendAndReceive([Message(content: RecordDict(), destination: NodeID(123), type: .train)], timeoutSeconds: 1)
            })
        }
    }

    @Test func thousandsOfNodesAreCheap() async throws {
        let result = try await runCounting(nodes: 20_000, workers: 2, rounds: 1)
        #expect(result.rounds[0].train.tally.succeeded == 20_000)
    }
}
