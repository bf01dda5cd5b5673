import Foundation

/// A Swift value that can be sent as a query parameter.
public protocol PostgresEncodable: Sendable {
    /// The type OID sent with the parameter (0 lets the server infer it from context).
    static var postgresType: UInt32 { get }
    var postgresBind: PostgresBind { get }
}

/// A Swift value that can be read from a result column (text format).
public protocol PostgresDecodable: Sendable {
    /// - Parameters:
    ///   - text: the column's text representation (never NULL here).
    ///   - type: the column's type OID.
    ///   - column: the column's name, for error messages.
    /// - Throws: `PostgresError` of kind `.decoding` naming the column.
    init(postgresText text: Substring, type: UInt32, column: String) throws
}

extension String: PostgresEncodable, PostgresDecodable {
    // Unknown lets the server coerce to the column's type (uuid, citext, enum, ...).
    public static var postgresType: UInt32 { PostgresType.unknown }
    public var postgresBind: PostgresBind { PostgresBind(type: Self.postgresType, text: self) }
    public init(postgresText text: Substring, type: UInt32, column: String) throws {
        self = String(text)
    }
}

extension Substring: PostgresEncodable {
    public static var postgresType: UInt32 { PostgresType.unknown }
    public var postgresBind: PostgresBind { PostgresBind(type: Self.postgresType, bytes: Array(self.utf8)) }
}

private func decodeInteger<T: FixedWidthInteger>(_ text: Substring, type: UInt32, column: String) throws -> T {
    guard PostgresType.integers.contains(type) else {
        throw PostgresError.decoding(column: column, expected: "\(T.self)", actualType: type)
    }
    guard let value = T(text) else {
        throw PostgresError.decoding(column: column, expected: "\(T.self)", actualType: type, why: "out of range")
    }
    return value
}

extension Int: PostgresEncodable, PostgresDecodable {
    public static var postgresType: UInt32 { PostgresType.int8 }
    public var postgresBind: PostgresBind { PostgresBind(type: Self.postgresType, text: String(self)) }
    public init(postgresText text: Substring, type: UInt32, column: String) throws {
        self = try decodeInteger(text, type: type, column: column)
    }
}

extension Int64: PostgresEncodable, PostgresDecodable {
    public static var postgresType: UInt32 { PostgresType.int8 }
    public var postgresBind: PostgresBind { PostgresBind(type: Self.postgresType, text: String(self)) }
    public init(postgresText text: Substring, type: UInt32, column: String) throws {
        self = try decodeInteger(text, type: type, column: column)
    }
}

extension Int32: PostgresEncodable, PostgresDecodable {
    public static var postgresType: UInt32 { PostgresType.int4 }
    public var postgresBind: PostgresBind { PostgresBind(type: Self.postgresType, text: String(self)) }
    public init(postgresText text: Substring, type: UInt32, column: String) throws {
        self = try decodeInteger(text, type: type, column: column)
    }
}

extension Int16: PostgresEncodable, PostgresDecodable {
    public static var postgresType: UInt32 { PostgresType.int2 }
    public var postgresBind: PostgresBind { PostgresBind(type: Self.postgresType, text: String(self)) }
    public init(postgresText text: Substring, type: UInt32, column: String) throws {
        self = try decodeInteger(text, type: type, column: column)
    }
}

extension Bool: PostgresEncodable, PostgresDecodable {
    public static var postgresType: UInt32 { PostgresType.bool }
    public var postgresBind: PostgresBind { PostgresBind(type: Self.postgresType, text: self ? "t" : "f") }
    public init(postgresText text: Substring, type: UInt32, column: String) throws {
        guard type == PostgresType.bool else {
            throw PostgresError.decoding(column: column, expected: "Bool", actualType: type)
        }
        self = text == "t"
    }
}

extension Double: PostgresEncodable, PostgresDecodable {
    public static var postgresType: UInt32 { PostgresType.float8 }
    public var postgresBind: PostgresBind { PostgresBind(type: Self.postgresType, text: "\(self)") }
    public init(postgresText text: Substring, type: UInt32, column: String) throws {
        guard [PostgresType.float4, PostgresType.float8, PostgresType.numeric].contains(type)
            || PostgresType.integers.contains(type)
        else {
            throw PostgresError.decoding(column: column, expected: "Double", actualType: type)
        }
        guard let value = Double(text) else {
            throw PostgresError.decoding(column: column, expected: "Double", actualType: type, why: "not a number")
        }
        self = value
    }
}

extension UUID: PostgresEncodable, PostgresDecodable {
    public static var postgresType: UInt32 { PostgresType.uuid }
    public var postgresBind: PostgresBind { PostgresBind(type: Self.postgresType, text: uuidString.lowercased()) }
    public init(postgresText text: Substring, type: UInt32, column: String) throws {
        guard type == PostgresType.uuid, let value = UUID(uuidString: String(text)) else {
            throw PostgresError.decoding(column: column, expected: "UUID", actualType: type)
        }
        self = value
    }
}

/// `timestamptz`: sent and read in UTC with microsecond precision.
extension Date: PostgresEncodable, PostgresDecodable {
    public static var postgresType: UInt32 { PostgresType.timestamptz }
    public var postgresBind: PostgresBind { PostgresBind(type: Self.postgresType, text: PostgresTime.format(self)) }
    public init(postgresText text: Substring, type: UInt32, column: String) throws {
        guard type == PostgresType.timestamptz || type == PostgresType.timestamp else {
            throw PostgresError.decoding(column: column, expected: "Date", actualType: type)
        }
        guard let date = PostgresTime.parse(text) else {
            throw PostgresError.decoding(column: column, expected: "Date", actualType: type, why: "unreadable timestamp")
        }
        self = date
    }
}

/// `bytea`: sent in binary format, read from the hex text format.
public struct PostgresBytes: Sendable, Hashable, PostgresEncodable, PostgresDecodable {
    public var bytes: [UInt8]

    public init(_ bytes: [UInt8]) { self.bytes = bytes }

    public static var postgresType: UInt32 { PostgresType.bytea }
    public var postgresBind: PostgresBind { PostgresBind(type: Self.postgresType, bytes: bytes, isBinary: true) }

    public init(postgresText text: Substring, type: UInt32, column: String) throws {
        guard type == PostgresType.bytea, text.hasPrefix("\\x") else {
            throw PostgresError.decoding(column: column, expected: "bytes", actualType: type)
        }
        let hex = text.utf8.dropFirst(2)
        guard hex.count % 2 == 0 else {
            throw PostgresError.decoding(column: column, expected: "bytes", actualType: type, why: "odd hex length")
        }
        var out: [UInt8] = []
        out.reserveCapacity(hex.count / 2)
        var high: UInt8? = nil
        for c in hex {
            let nibble: UInt8
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): nibble = c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): nibble = c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): nibble = c - UInt8(ascii: "A") + 10
            default:
                throw PostgresError.decoding(column: column, expected: "bytes", actualType: type, why: "bad hex")
            }
            if let h = high {
                out.append(h << 4 | nibble)
                high = nil
            } else {
                high = nibble
            }
        }
        self.bytes = out
    }
}

/// A calendar date without time or zone (`date`), e.g. an invoice's due date.
public struct CalendarDate: Sendable, Hashable, Comparable, Codable, CustomStringConvertible, PostgresEncodable,
    PostgresDecodable
{
    public var year: Int
    public var month: Int
    public var day: Int

    /// - Returns: nil when the date does not exist (31 February).
    public init?(year: Int, month: Int, day: Int) {
        guard (1...9999).contains(year), (1...12).contains(month), day >= 1,
            day <= CalendarDate.daysIn(month: month, year: year)
        else { return nil }
        self.year = year
        self.month = month
        self.day = day
    }

    /// Parses ISO `YYYY-MM-DD`.
    public init?(iso text: some StringProtocol) {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
            let y = Int(parts[0]), let m = Int(parts[1]), let d = Int(parts[2])
        else { return nil }
        self.init(year: y, month: m, day: d)
    }

    public static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// Days since 1970-01-01 (negative before).
    public var daysSinceEpoch: Int { PostgresTime.daysFromCivil(year, month, day) }

    public init(daysSinceEpoch days: Int) {
        let (y, m, d) = PostgresTime.civilFromDays(days)
        self.year = y
        self.month = m
        self.day = d
    }

    /// The UTC calendar date of an instant.
    public init(_ date: Date) {
        self.init(daysSinceEpoch: Int((date.timeIntervalSince1970 / 86_400).rounded(.down)))
    }

    public func adding(days: Int) -> CalendarDate { CalendarDate(daysSinceEpoch: daysSinceEpoch + days) }

    public static func < (lhs: CalendarDate, rhs: CalendarDate) -> Bool { lhs.daysSinceEpoch < rhs.daysSinceEpoch }

    public var description: String {
        func pad(_ v: Int, _ width: Int) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, width - s.count)) + s
        }
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))"
    }

    public static var postgresType: UInt32 { PostgresType.date }
    public var postgresBind: PostgresBind { PostgresBind(type: Self.postgresType, text: description) }
    public init(postgresText text: Substring, type: UInt32, column: String) throws {
        guard type == PostgresType.date, let value = CalendarDate(iso: text) else {
            throw PostgresError.decoding(column: column, expected: "CalendarDate", actualType: type)
        }
        self = value
    }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let value = CalendarDate(iso: text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "expected YYYY-MM-DD"))
        }
        self = value
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

/// A `jsonb` value carried as its JSON text.
public struct PostgresJSON: Sendable, Hashable, PostgresEncodable, PostgresDecodable {
    public var text: String

    public init(text: String) { self.text = text }

    /// Encodes a value with sorted keys, so equal values give equal text.
    public init<T: Encodable>(encoding value: T) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        self.text = String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    public func decode<T: Decodable>(_ type: T.Type) throws -> T {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try decoder.decode(T.self, from: Data(text.utf8))
    }

    public static var postgresType: UInt32 { PostgresType.jsonb }
    public var postgresBind: PostgresBind { PostgresBind(type: Self.postgresType, text: text) }
    public init(postgresText text: Substring, type: UInt32, column: String) throws {
        guard type == PostgresType.jsonb || type == PostgresType.json else {
            throw PostgresError.decoding(column: column, expected: "JSON", actualType: type)
        }
        self.text = String(text)
    }
}

/// Arrays for `= ANY($1)`: sent as array literals.
extension Array: PostgresDecodable where Element: PostgresArrayElement {
    public init(postgresText text: Substring, type: UInt32, column: String) throws {
        guard text.first == "{", text.last == "}" else {
            throw PostgresError.decoding(column: column, expected: "array", actualType: type)
        }
        let body = text.dropFirst().dropLast()
        if body.isEmpty {
            self = []
            return
        }
        var values: [Element] = []
        for item in PostgresArrayLiteral.split(body) {
            guard let item else {
                throw PostgresError.decoding(column: column, expected: "array", actualType: type, why: "NULL element")
            }
            values.append(try Element(postgresText: Substring(item), type: Element.elementType, column: column))
        }
        self = values
    }
}

extension Array: PostgresEncodable where Element: PostgresArrayElement {
    public static var postgresType: UInt32 { Element.arrayType }
    public var postgresBind: PostgresBind {
        let items = self.map { PostgresArrayLiteral.quote(String(decoding: $0.postgresBind.bytes ?? [], as: UTF8.self)) }
        return PostgresBind(type: Element.arrayType, text: "{" + items.joined(separator: ",") + "}")
    }
}

/// An element type that can travel inside an array parameter.
public protocol PostgresArrayElement: PostgresEncodable, PostgresDecodable {
    static var arrayType: UInt32 { get }
    static var elementType: UInt32 { get }
}

extension String: PostgresArrayElement {
    public static var arrayType: UInt32 { PostgresType.textArray }
    public static var elementType: UInt32 { PostgresType.text }
}

extension UUID: PostgresArrayElement {
    public static var arrayType: UInt32 { PostgresType.uuidArray }
    public static var elementType: UInt32 { PostgresType.uuid }
}

extension Int: PostgresArrayElement {
    public static var arrayType: UInt32 { PostgresType.int8Array }
    public static var elementType: UInt32 { PostgresType.int8 }
}

enum PostgresArrayLiteral {
    static func quote(_ s: String) -> String {
        var out = "\""
        for ch in s {
            if ch == "\"" || ch == "\\" { out.append("\\") }
            out.append(ch)
        }
        out.append("\"")
        return out
    }

    /// Splits the inside of a one-dimensional array literal; nil is NULL.
    static func split(_ body: Substring) -> [String?] {
        var items: [String?] = []
        var current = ""
        var quoted = false
        var wasQuoted = false
        var escape = false
        for ch in body {
            if escape {
                current.append(ch)
                escape = false
            } else if ch == "\\" {
                escape = true
            } else if ch == "\"" {
                quoted.toggle()
                wasQuoted = true
            } else if ch == "," && !quoted {
                items.append(!wasQuoted && current == "NULL" ? nil : current)
                current = ""
                wasQuoted = false
            } else {
                current.append(ch)
            }
        }
        items.append(!wasQuoted && current == "NULL" ? nil : current)
        return items
    }
}

/// A string enum read from a text column whose values a CHECK constraint lists: a value the
/// enum does not know is a decoding error naming the column (not a silent default).
extension PostgresDecodable where Self: RawRepresentable, RawValue == String {
    public init(postgresText text: Substring, type: UInt32, column: String) throws {
        guard let value = Self(rawValue: String(text)) else {
            throw PostgresError.decoding(column: column, expected: String(describing: Self.self), actualType: type, why: "unknown value")
        }
        self = value
    }
}
