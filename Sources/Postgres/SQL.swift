/// A SQL statement whose values travel as bound parameters (`$1`, `$2`, ...), never spliced
/// into the text.
///
/// ```swift
/// let rows = try await db.query("SELECT id FROM creditors WHERE siren = \(siren) AND status = \(status)")
/// ```
/// Every interpolated value becomes a parameter. Fragments compose:
/// `"SELECT * FROM t WHERE \(condition)"` where `condition` is itself an `SQL` renumbers its
/// parameters. Identifiers that come from code (never from input) go through `unsafeRaw:`.
public struct SQL: Sendable, ExpressibleByStringInterpolation, CustomStringConvertible {
    enum Segment: Sendable {
        case text(String)
        case bind(PostgresBind)
    }

    var segments: [Segment]

    public init(stringLiteral value: String) {
        self.segments = [.text(value)]
    }

    public init(stringInterpolation: StringInterpolation) {
        self.segments = stringInterpolation.segments
    }

    /// Text with no parameters, for statements written in code.
    public init(unsafeRaw text: String) {
        self.segments = [.text(text)]
    }

    public struct StringInterpolation: StringInterpolationProtocol {
        var segments: [Segment] = []

        public init(literalCapacity: Int, interpolationCount: Int) {
            segments.reserveCapacity(interpolationCount * 2 + 1)
        }

        public mutating func appendLiteral(_ literal: String) {
            if !literal.isEmpty { segments.append(.text(literal)) }
        }

        public mutating func appendInterpolation<T: PostgresEncodable>(_ value: T) {
            segments.append(.bind(value.postgresBind))
        }

        public mutating func appendInterpolation<T: PostgresEncodable>(_ value: T?) {
            segments.append(.bind(value?.postgresBind ?? PostgresBind(type: T.postgresType, bytes: nil)))
        }

        /// Splices another statement fragment; its parameters are renumbered.
        public mutating func appendInterpolation(_ fragment: SQL) {
            segments.append(contentsOf: fragment.segments)
        }

        /// Text from code (an identifier, a keyword). Never pass user input here.
        public mutating func appendInterpolation(unsafeRaw text: String) {
            segments.append(.text(text))
        }
    }

    /// Appends a fragment (for building statements in loops).
    public mutating func append(_ fragment: SQL) {
        segments.append(contentsOf: fragment.segments)
    }

    /// Joins fragments with a separator written in code, e.g. `", "` or `" AND "`.
    public static func joined(_ fragments: [SQL], separator: String) -> SQL {
        var out = SQL(unsafeRaw: "")
        for (index, fragment) in fragments.enumerated() {
            if index > 0 { out.segments.append(.text(separator)) }
            out.segments.append(contentsOf: fragment.segments)
        }
        return out
    }

    /// The statement text with `$n` placeholders and the parameters in order.
    public func render() -> (text: String, binds: [PostgresBind]) {
        var text = ""
        var binds: [PostgresBind] = []
        for segment in segments {
            switch segment {
            case .text(let part):
                text += part
            case .bind(let bind):
                binds.append(bind)
                text += "$\(binds.count)"
            }
        }
        return (text, binds)
    }

    /// The statement text only: parameters never appear, so this is safe to log.
    public var description: String { render().text }
}

/// One parameter as libpq receives it: a type OID (0 lets the server infer), the bytes
/// (nil is SQL NULL) and the format (0 text, 1 binary).
public struct PostgresBind: Sendable {
    public var type: UInt32
    public var bytes: [UInt8]?
    public var isBinary: Bool

    public init(type: UInt32, bytes: [UInt8]?, isBinary: Bool = false) {
        self.type = type
        self.bytes = bytes
        self.isBinary = isBinary
    }

    public init(type: UInt32, text: String) {
        self.init(type: type, bytes: Array(text.utf8))
    }
}
