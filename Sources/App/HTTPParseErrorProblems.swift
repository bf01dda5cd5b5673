import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTPTypes

/// Requests the HTTP parser refuses (headers over the limits, a URL too long, bytes that are not
/// HTTP) get an RFC 9457 problem like every other refusal, instead of the framework's bare 400
/// with an empty body: 431 for header limits, 414 for the URL, 400 naming the problem.
///
/// Two handlers: one before the parser watches whether the request line ended (a URL too long
/// and headers too large raise the same parser error), one after it rewrites the framework's
/// empty 400 into the problem.
struct ProblemHTTP1Channel: ServerChildChannel {
    typealias Value = HTTP1Channel.Value
    let base: HTTP1Channel

    /// An HTTP/1.1 server builder whose parse errors answer problem+json.
    static func builder(configuration: HTTP1Channel.Configuration) -> HTTPServerBuilder {
        HTTPServerBuilder { responder in
            var configuration = configuration
            let others = configuration.additionalChannelHandlers
            let limit = configuration.httpDecoder.maxHeaderFieldSize
            configuration.additionalChannelHandlers = { others() + [ParseErrorProblemHandler(fieldLimit: limit)] }
            return ProblemHTTP1Channel(base: HTTP1Channel(responder: responder, configuration: configuration))
        }
    }

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        base.setup(channel: channel, logger: logger).flatMapThrowing { value in
            let operations = channel.pipeline.syncOperations
            let decoder = try operations.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self)
            let problems = try operations.handler(type: ParseErrorProblemHandler.self)
            try operations.addHandler(RequestLineWatcher(problems: problems), position: .before(decoder))
            return value
        }
    }

    func handle(value: Value, logger: Logger) async {
        await base.handle(value: value, logger: logger)
    }
}

/// Before the parser: counts the bytes of the current request line up to its end. A request
/// starts at the connection's start and after each request's end (seen by the handler after
/// the parser); pipelined requests sent before the previous answer may be misread as
/// headers, which only changes 414 into 431.
final class RequestLineWatcher: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    let problems: ParseErrorProblemHandler

    init(problems: ParseErrorProblemHandler) {
        self.problems = problems
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if !problems.requestLineEnded {
            let bytes = Self.unwrapInboundIn(data).readableBytesView
            if let newline = bytes.firstIndex(of: UInt8(ascii: "\n")) {
                problems.requestLineEnded = true
                problems.requestLineBytes += bytes.distance(from: bytes.startIndex, to: newline)
            } else {
                problems.requestLineBytes += bytes.count
            }
        }
        context.fireChannelRead(data)
    }
}

/// After the parser: remembers what the parser refused and turns the framework's empty 400
/// into the matching problem.
final class ParseErrorProblemHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    var requestLineEnded = false
    var requestLineBytes = 0
    private var refusal: (status: Int, detail: String)?
    /// The parser's limit on one field, which the URL also counts against.
    let fieldLimit: Int

    init(fieldLimit: Int) {
        self.fieldLimit = fieldLimit
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .end = Self.unwrapInboundIn(data) {
            requestLineEnded = false
            requestLineBytes = 0
        }
        context.fireChannelRead(data)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let error = error as? HTTPParserError {
            refusal = Self.refusal(for: error, urlTooLong: requestLineBytes > fieldLimit)
        }
        context.fireErrorCaught(error)
    }

    static func refusal(for error: HTTPParserError, urlTooLong: Bool) -> (status: Int, detail: String) {
        switch error {
        case .headerOverflow where urlTooLong:
            return (414, "The URL is longer than the server accepts.")
        case .headerOverflow:
            return (431, "The request's header fields are larger than the server accepts.")
        case .invalidURL:
            return (400, "The request line holds a URL with characters HTTP does not allow; percent-encode them.")
        case .invalidMethod:
            return (400, "The request's method is not valid HTTP.")
        case .invalidVersion:
            return (400, "The request's HTTP version is not valid.")
        case .invalidHeaderToken, .invalidConstant, .lfExpected:
            return (400, "A header line is not valid HTTP.")
        case .invalidContentLength, .unexpectedContentLength, .invalidChunkSize:
            return (400, "The request's body length is not valid.")
        default:
            return (400, "The request is not valid HTTP.")
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard let refusal else {
            context.write(data, promise: promise)
            return
        }
        switch Self.unwrapOutboundIn(data) {
        case .head(var head) where head.status.code == 400 && head.headerFields[.contentLength] == "0" && head.headerFields[.connection] == "close":
            // The framework's answer to the parser error, and only that one (a response to an
            // earlier request still being written keeps its own head and body).
            let body = Self.body(refusal)
            head.status = .init(code: refusal.status)
            head.headerFields[.contentType] = "application/problem+json"
            head.headerFields[.contentLength] = String(body.readableBytes)
            head.headerFields[.connection] = "close"
            context.write(Self.wrapOutboundOut(.head(head)), promise: nil)
            context.write(Self.wrapOutboundOut(.body(body)), promise: promise)
        default:
            context.write(data, promise: promise)
        }
    }

    /// The problem document; no request ID (the request was never read), nothing quoted.
    static func body(_ refusal: (status: Int, detail: String)) -> ByteBuffer {
        let code = refusal.status == 431 ? "header-fields-too-large" : refusal.status == 414 ? "uri-too-long" : "bad-request"
        let title = refusal.status == 431 ? "Request header fields too large" : refusal.status == 414 ? "URI too long" : "The request could not be read"
        let object: [String: Any] = ["type": "https://relance.dev/problems/\(code)", "title": title, "status": refusal.status, "detail": refusal.detail]
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
        return ByteBuffer(bytes: data)
    }
}
