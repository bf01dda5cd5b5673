import Foundation
import Core
import Hummingbird
import Logging
import NIOCore

/// What a handler needs of any request context: the request ID (echoed in problems) and the
/// JSON body limit.
public protocol RelanceRequestContext: RequestContext {
    var requestID: String { get }
    var maxBodyBytes: Int { get }
}

extension AppRequestContext: RelanceRequestContext {}

/// The context of every route that needs a caller: built from `AppRequestContext` when the
/// request carries a valid credential, otherwise the request is answered 401 before any handler
/// runs. Routes that need a caller are added to `router.group(context: CallerContext.self)`,
/// so a handler cannot forget the check; what the caller may do is then a `Permission`.
public struct CallerContext: ChildRequestContext, RelanceRequestContext {
    public typealias ParentContext = AppRequestContext
    public var coreContext: CoreRequestContextStorage
    /// The authenticated caller.
    public let principal: Principal
    public let requestID: String
    public let maxBodyBytes: Int
    /// The client's connection (see `AppRequestContext.channel`).
    public let channel: any Channel
    /// The creditor named in the path, once the route's access check has admitted the caller to
    /// it (`ModuleRoutes`, a route declared `onCreditorIn:`).
    var checkedCreditor: UUID?

    public init(context: AppRequestContext) throws {
        guard let principal = context.principal else { throw Problem.unauthorized }
        self.coreContext = context.coreContext
        self.principal = principal
        self.requestID = context.requestID
        self.maxBodyBytes = context.maxBodyBytes
        self.channel = context.channel
    }

    public var maxUploadSize: Int { maxBodyBytes }

    /// The creditor of the path, checked against the caller before the handler ran. Only a
    /// route declared with `onCreditorIn:` has one; anywhere else this is a 404.
    public func creditor() throws -> UUID {
        guard let checkedCreditor else { throw Problem.notFound("creditor") }
        return checkedCreditor
    }
}
