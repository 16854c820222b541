import Foundation
import Testing

/// What a SuperNode keeps for a run (its ClientApp's `Context.state`, the run's settings) goes once the run ends, so
/// that a node serving run after run for months does not hold them all.
@Suite struct FinishedRunTests {
    @Test func aSuperNodeForgetsAFinishedRunsState() throws {
        var federation = try Federation.start()
        defer { federation.stop() }
        // The shortest heartbeat Flower allows: a node looks at its runs after every heartbeat (about 4 s apart).
        for site in 0..<2 { try federation.addNode(csv: "site\(site).csv", heartbeatInterval: 10) }
        let run = try federation.submit(["num-server-rounds=1"])
        #expect(try run.waitForExit(timeoutSeconds: 120) == 0, "\(run.printed)")
        let id = try #require(run.printed.range(of: #"run [0-9]+ submitted"#, options: .regularExpression).map { run.printed[$0].split(separator: " ")[1] })
        for node in federation.nodes {
            try node.waitFor("pollen.run.id=\(id) \\[PollenNode\\] forgot a finished run's state", timeoutSeconds: 30)
        }
    }
}
