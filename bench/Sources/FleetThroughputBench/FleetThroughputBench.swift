import AsyncHTTPClient
import Crypto
import Foundation
import PollenNode
import PollenWire

/// SuperLink request throughput: N idle SuperNodes, each with its own P-384 key, registered and activated, then
/// `pull-messages` calls (signed, as Flower's SuperNodes sign them) from C concurrent workers for T seconds.
/// Speaks Flower 1.42's Fleet API, so the same load runs against a Pollen or a Flower SuperLink.
/// Prints one JSON line: requests per second and latency percentiles.
@main
struct FleetThroughputBench {
    static func main() async throws {
        var url = "http://127.0.0.1:9092"
        var nodes = 1_000
        var seconds = 10.0
        var concurrency = 32
        var arguments = CommandLine.arguments.dropFirst().makeIterator()
        while let flag = arguments.next() {
            guard let value = arguments.next() else { fatalError("\(flag) needs a value") }
            switch flag {
            case "--url": url = value
            case "--nodes": nodes = Int(value)!
            case "--seconds": seconds = Double(value)!
            case "--concurrency": concurrency = Int(value)!
            default: fatalError("unknown option \(flag); use --url, --nodes, --seconds, --concurrency")
            }
        }
        let http = HTTPClient(
            eventLoopGroupProvider: .singleton,
            configuration: .init(connectionPool: .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: concurrency))
        )
        // Register and activate every node.
        var clients = [(FleetClient, UInt64)]()
        for _ in 0..<nodes {
            let client = FleetClient(baseURL: url, key: P384.Signing.PrivateKey(), http: http)
            _ = try await client.call("register-node", Flwr_Proto_RegisterNodeFleetRequest.with { $0.publicKey = client.publicKey },
                                      as: Flwr_Proto_RegisterNodeFleetResponse.self)
            let activated = try await client.call("activate-node", Flwr_Proto_ActivateNodeRequest.with {
                $0.publicKey = client.publicKey
                $0.heartbeatInterval = 1_800
            }, as: Flwr_Proto_ActivateNodeResponse.self)
            clients.append((client, activated.nodeID))
        }
        let deadline = Date().addingTimeInterval(seconds)
        let all = clients
        let workers = concurrency
        let started = Date()
        let latencies = try await withThrowingTaskGroup(of: [Double].self) { group in
            for worker in 0..<workers {
                group.addTask { [all, deadline] in
                    var latencies = [Double]()
                    var index = worker
                    while Date() < deadline {
                        let (client, node) = all[index % all.count]
                        let start = Date()
                        _ = try await client.call("pull-messages", Flwr_Proto_PullMessagesRequest.with { $0.node = .with { $0.nodeID = node } },
                                                  as: Flwr_Proto_PullMessagesResponse.self)
                        latencies.append(Date().timeIntervalSince(start))
                        index += workers
                    }
                    return latencies
                }
            }
            var all = [Double]()
            for try await part in group { all += part }
            return all.sorted()
        }
        let elapsed = Date().timeIntervalSince(started)
        try await http.shutdown()
        func percentile(_ p: Double) -> Double { latencies.isEmpty ? 0 : latencies[min(latencies.count - 1, Int(Double(latencies.count) * p))] * 1_000 }
        let report: [String: Any] = [
            "url": url, "nodes": nodes, "concurrency": concurrency, "requests": latencies.count,
            "requests_per_second": (Double(latencies.count) / elapsed).rounded(),
            "p50_ms": (percentile(0.5) * 100).rounded() / 100, "p99_ms": (percentile(0.99) * 100).rounded() / 100,
        ]
        print(String(decoding: try JSONSerialization.data(withJSONObject: report, options: [.sortedKeys]), as: UTF8.self))
    }
}
