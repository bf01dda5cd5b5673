import Core
import HTTPTypes
import Hummingbird
import Metrics
import Prometheus
import Web

/// The process-wide Prometheus registry; `MetricsSystem` is bootstrapped once, the first time
/// it is used (tests build many applications in one process).
public enum Telemetry {
    public static let registry: PrometheusCollectorRegistry = {
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        return registry
    }()
}

/// `GET /metrics`: Prometheus text. Labels are methods, route patterns and status codes only.
struct MetricsRoutes {
    let token: String?

    func add(to routes: ModuleRoutes) {
        routes.open(.get, "/metrics") { request, _ -> Response in
            if let token {
                guard let header = request.headers[.authorization], ConstantTime.equal(header, "Bearer \(token)") else {
                    throw Problem.unauthorized
                }
            }
            var buffer: [UInt8] = []
            buffer.reserveCapacity(16 * 1024)
            Telemetry.registry.emit(into: &buffer)
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: buffer)))
        }
    }
}
