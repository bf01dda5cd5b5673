/// The rows of a result, already copied out of libpq (the `PGresult` is freed).
public struct PostgresRows: Sendable, RandomAccessCollection {
    /// Column names and type OIDs, shared by every row.
    public let columns: PostgresColumns
    let rows: [PostgresRow]
    /// Rows affected by INSERT/UPDATE/DELETE/COPY (0 for others).
    public let affectedRows: Int

    init(columns: PostgresColumns, rows: [PostgresRow], affectedRows: Int) {
        self.columns = columns
        self.rows = rows
        self.affectedRows = affectedRows
    }

    public var startIndex: Int { rows.startIndex }
    public var endIndex: Int { rows.endIndex }
    public subscript(position: Int) -> PostgresRow { rows[position] }

    /// The single row of a result, or nil; throws when there are several.
    public func one() throws -> PostgresRow? {
        guard rows.count <= 1 else {
            throw PostgresError(kind: .protocolViolation, reason: "expected at most one row, got \(rows.count)")
        }
        return rows.first
    }
}

public final class PostgresColumns: Sendable {
    public let names: [String]
    public let types: [UInt32]
    let indexByName: [String: Int]

    init(names: [String], types: [UInt32]) {
        self.names = names
        self.types = types
        var index: [String: Int] = [:]
        for (i, name) in names.enumerated() where index[name] == nil { index[name] = i }
        self.indexByName = index
    }
}

/// One row; values are decoded on demand, by column name or position.
public struct PostgresRow: Sendable {
    public let columns: PostgresColumns
    /// Text representation of each value; nil is SQL NULL.
    let values: [String?]

    /// Decodes a column by name.
    /// - Throws: `PostgresError` (`.decoding`) naming the column when it is missing, NULL for a
    ///   non-optional type, or of another type.
    public func decode<T: PostgresDecodable>(_ type: T.Type = T.self, _ column: String) throws -> T {
        guard let index = columns.indexByName[column] else {
            throw PostgresError(kind: .decoding, reason: "no column '\(column)' in result", column: column)
        }
        return try decode(type, at: index)
    }

    /// Decodes an optional column by name (NULL is nil).
    public func decode<T: PostgresDecodable>(_ type: T?.Type, _ column: String) throws -> T? {
        guard let index = columns.indexByName[column] else {
            throw PostgresError(kind: .decoding, reason: "no column '\(column)' in result", column: column)
        }
        return try decode(type, at: index)
    }

    public func decode<T: PostgresDecodable>(_ type: T.Type = T.self, at index: Int) throws -> T {
        guard let text = values[index] else {
            throw PostgresError(kind: .decoding, reason: "column '\(columns.names[index])' is NULL", column: columns.names[index])
        }
        return try T(postgresText: Substring(text), type: columns.types[index], column: columns.names[index])
    }

    public func decode<T: PostgresDecodable>(_ type: T?.Type, at index: Int) throws -> T? {
        guard let text = values[index] else { return nil }
        return try T(postgresText: Substring(text), type: columns.types[index], column: columns.names[index])
    }

    /// True when the named column is SQL NULL.
    public func isNull(_ column: String) -> Bool {
        guard let index = columns.indexByName[column] else { return true }
        return values[index] == nil
    }
}
