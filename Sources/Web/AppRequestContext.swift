import Core
import Hummingbird
import Logging
import NIOCore

/// The request context of every route: request ID, caller, client address, body limit.
public struct AppRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// Set by `RequestIDMiddleware`; echoed in `X-Request-ID` and in problem bodies.
    public var requestID: String = ""
    /// Largest JSON body a handler may decode (RELANCE_MAX_BODY_BYTES).
    public var maxBodyBytes: Int = 1 << 20
    /// Set by `AuthenticationMiddleware` when the request carries a valid bearer credential.
    public var principal: Principal?
    /// The peer's IP address, for login throttling.
    public let clientAddress: String
    /// The client's connection, to close it after refusing a request whose body it is still
    /// sending (an upload too slow).
    public let channel: any Channel

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.clientAddress = source.channel.remoteAddress?.ipAddress ?? "unknown"
        self.channel = source.channel
    }

    public var maxUploadSize: Int { maxBodyBytes }
}
