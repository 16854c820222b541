import Foundation
public import Hummingbird
import Metrics
import PollenStore
import Prometheus

/// The SuperLink's metrics for an operator's Prometheus, at `GET /metrics` in Prometheus's text format:
///
/// - every request of every API, through swift-metrics (Hummingbird's `MetricsMiddleware`): `hb_requests` and
///   `hb_request_errors` by route, method and status, and `http_server_request_duration` histograms;
/// - the SuperLink's state, read at each scrape: `pollen_nodes` by status, `pollen_runs` by phase and
///   `pollen_objects` (objects held, pending or stored).
///
/// With Control API accounts, a scrape needs an operator's token (Prometheus's `authorization` setting).
public enum SuperLinkMetrics {
    /// The registry this process's metrics go to; swift-metrics is bootstrapped to it on first use, with names made
    /// Prometheus's (`hb.requests` → `hb_requests`).
    static let registry: PrometheusCollectorRegistry = {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.nameAndLabelSanitizer = { name, labels in
            (prometheusName(name), labels.map { (prometheusName($0.0), $0.1) })
        }
        MetricsSystem.bootstrap(factory)
        return registry
    }()

    /// Adds request metrics and `GET /metrics` to `router`.
    static func add(to router: Router<BasicRequestContext>, state: any LinkState, objects: any ObjectStore, accounts: ControlAccounts?) {
        _ = registry
        router.add(middleware: MetricsMiddleware())
        router.get("/metrics") { request, _ -> Response in
            do { _ = try ControlRoutes.Caller(request, accounts: accounts, operatorsOnly: true, route: "/metrics") } catch let error as FleetError {
                return error.response
            }
            let now = Date().timeIntervalSince1970
            let nodes = try await state.nodes(now: now)
            for status in [NodeStatus.registered, .online, .offline, .unregistered] {
                registry.makeGauge(name: "pollen_nodes", labels: [("status", status.rawValue)])
                    .set(Double(nodes.count { $0.status == status }))
            }
            let runs = try await state.runs()
            for phase in ["pending", "starting", "running", "finished"] {
                registry.makeGauge(name: "pollen_runs", labels: [("phase", phase)]).set(Double(runs.count { $0.status.phase == phase }))
            }
            registry.makeGauge(name: "pollen_objects").set(Double(try await objects.objectCount()))
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: registry.emitToBuffer()))
            )
        }
    }

    /// `name` with every character Prometheus does not allow in names as `_`.
    private static func prometheusName(_ name: String) -> String {
        String(name.map { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == ":") ? $0 : "_" })
    }
}
