import Hummingbird
import Logging

/// The request context of every route: the request ID and the body limit.
public struct AppRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// Set by `RequestIDMiddleware`; echoed in `X-Request-ID` and in 500 problem bodies.
    public var requestID: String = ""
    /// Largest JSON body a handler may decode (RELANCE_MAX_BODY_BYTES).
    public var maxBodyBytes: Int = 1 << 20

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
    }

    public var maxUploadSize: Int { maxBodyBytes }
}
