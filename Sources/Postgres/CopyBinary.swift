import Foundation

/// Writes rows in PostgreSQL's binary COPY format, straight into bytes: nothing to escape on our
/// side, nothing to parse on the server's (ids, dates, numbers and digests travel as they are
/// stored; text as its UTF-8 bytes, checked by the server). Integers are big-endian; each row is
/// its field count, then each field its length (-1: NULL) and its bytes. Used with
/// `PostgresTransaction.copyFrom` (`COPY t (…) FROM STDIN WITH (FORMAT binary)`): placement
/// uploads now, bank statement imports later.
///
/// `@inlinable`: these run for every field of millions of rows, and must inline into the
/// callers' loops in other modules.
public enum CopyBinary {
    /// Signature, flags, no header extension: the start of the data.
    public static let header: [UInt8] = Array("PGCOPY\n".utf8) + [0xFF, 0x0D, 0x0A, 0x00] + [0, 0, 0, 0] + [0, 0, 0, 0]
    /// A field count of -1 ends the data.
    public static let trailer: [UInt8] = [0xFF, 0xFF]

    /// PostgreSQL's `text` element type, named by binary arrays.
    public static let textOID: Int32 = 25

    @inlinable public static func int16(_ n: Int16, into out: inout [UInt8]) {
        withUnsafeBytes(of: n.bigEndian) { out.append(contentsOf: $0) }
    }

    @inlinable public static func int32(_ n: Int32, into out: inout [UInt8]) {
        withUnsafeBytes(of: n.bigEndian) { out.append(contentsOf: $0) }
    }

    @inlinable public static func int64(_ n: Int64, into out: inout [UInt8]) {
        withUnsafeBytes(of: n.bigEndian) { out.append(contentsOf: $0) }
    }

    /// The start of a row of `count` fields.
    @inlinable public static func row(fields count: Int, into out: inout [UInt8]) {
        int16(Int16(count), into: &out)
    }

    @inlinable public static func null(into out: inout [UInt8]) {
        int32(-1, into: &out)
    }

    @inlinable public static func text(_ s: String?, into out: inout [UInt8]) {
        guard var s else { return null(into: &out) }
        s.withUTF8 { bytes in
            int32(Int32(bytes.count), into: &out)
            out.append(contentsOf: bytes)
        }
    }

    /// A `bigint`.
    @inlinable public static func bigint(_ n: Int64, into out: inout [UInt8]) {
        int32(8, into: &out)
        int64(n, into: &out)
    }

    /// An `integer`.
    @inlinable public static func integer(_ n: Int32, into out: inout [UInt8]) {
        int32(4, into: &out)
        int32(n, into: &out)
    }

    /// A `bytea`.
    @inlinable public static func bytes(_ bytes: UnsafeRawBufferPointer, into out: inout [UInt8]) {
        int32(Int32(bytes.count), into: &out)
        out.append(contentsOf: bytes)
    }

    /// 16 raw bytes (an id already in that form, `uuidBytes`).
    @inlinable public static func uuid(_ bytes: [UInt8], into out: inout [UInt8]) {
        int32(16, into: &out)
        out.append(contentsOf: bytes)
    }

    public static func uuidBytes(_ id: UUID) -> [UInt8] {
        withUnsafeBytes(of: id.uuid) { Array($0) }
    }

    /// Days since 2000-01-01, PostgreSQL's date.
    @inlinable public static func daysSince2000(_ d: CalendarDate) -> Int32 {
        // Days from civil (H. Hinnant): years start in March, so leap days come last.
        let y = d.month <= 2 ? d.year - 1 : d.year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * ((d.month + 9) % 12) + 2) / 5 + d.day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return Int32(era * 146_097 + dayOfEra - 719_468 - 10_957)
    }

    @inlinable public static func date(_ d: CalendarDate?, into out: inout [UInt8]) {
        guard let d else { return null(into: &out) }
        int32(4, into: &out)
        int32(daysSince2000(d), into: &out)
    }

    /// A one-dimensional `text[]` (empty: no dimensions).
    @inlinable public static func textArray(_ items: [String], into out: inout [UInt8]) {
        let lengthAt = out.count
        int32(0, into: &out)  // the field's length, written below
        int32(items.isEmpty ? 0 : 1, into: &out)  // dimensions
        int32(0, into: &out)  // no NULL element
        int32(textOID, into: &out)
        if !items.isEmpty {
            int32(Int32(items.count), into: &out)
            int32(1, into: &out)  // lower bound
            for item in items { text(item, into: &out) }
        }
        let length = Int32(out.count - lengthAt - 4)
        withUnsafeBytes(of: length.bigEndian) { out.replaceSubrange(lengthAt..<lengthAt + 4, with: $0) }
    }
}
