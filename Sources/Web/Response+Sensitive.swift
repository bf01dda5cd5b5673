import HTTPTypes
import Hummingbird

extension Response {
    /// The body holds a secret shown once: never cached, never stored for idempotent replay.
    public mutating func markSensitive() {
        headers[.cacheControl] = "no-store"
        headers[.relanceSensitive] = "1"
    }
}

extension HTTPField.Name {
    /// Internal marker read by `IdempotencyMiddleware`; removed before the response leaves.
    public static let relanceSensitive = HTTPField.Name("X-Relance-Sensitive")!
}
