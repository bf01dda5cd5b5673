/// An incremental CSV parser over bytes: feed chunks of any size, get complete records.
///
/// Handles what French accounting exports produce: `,`, `;`, tab or `|` separators (detected on
/// the header line; `|` and tab are the two the FEC's format allows), quoted fields with doubled quotes, separators and line breaks inside
/// quotes, CRLF, LF or CR line ends, a UTF-8 byte order mark. Works on bytes, so UTF-8 and
/// Windows-1252 files parse alike (separators and quotes are ASCII in both); fields are
/// decoded later.
public struct CSVStreamParser {
    /// One record: its fields' bytes one after the other, and where each field ends (two
    /// allocations a record, not one per field).
    public struct Record: Sendable {
        /// The physical line on which the record starts (1 = the header).
        public var line: Int
        public var bytes: [UInt8]
        public var ends: [Int]

        public init(line: Int, bytes: [UInt8], ends: [Int]) {
            self.line = line
            self.bytes = bytes
            self.ends = ends
        }

        /// How many fields the record has.
        public var count: Int { ends.count }
        /// The bytes of field `index`.
        public subscript(index: Int) -> ArraySlice<UInt8> { bytes[(index == 0 ? 0 : ends[index - 1])..<ends[index]] }
        public var fields: [[UInt8]] { (0..<count).map { Array(self[$0]) } }
    }

    public private(set) var separator: UInt8?
    /// The record being read: the bytes of its fields so far, where each complete field ends,
    /// and where the current field starts.
    private var bytes: [UInt8] = []
    private var ends: [Int] = []
    private var fieldStart = 0
    private var inQuotes = false
    private var quoteInQuoted = false
    private var fieldStarted = false
    private var afterCR = false
    private var line = 1
    private var recordLine = 1
    private var start = true
    private var pendingHeader: [UInt8] = []
    /// Longest field accepted (a runaway quote would otherwise swallow the file).
    public var maxFieldBytes = 64 * 1024

    public struct Malformed: Error {
        public let line: Int
        public let reason: String
    }

    public init(separator: UInt8? = nil) {
        self.separator = separator
    }

    /// Parses a chunk; returns the records it completed.
    public mutating func feed(_ chunk: some Sequence<UInt8>) throws -> [Record] {
        var out: [Record] = []
        var input = Array(chunk)
        if start {
            pendingHeader += input
            if pendingHeader.count >= 3, pendingHeader[0] == 0xEF, pendingHeader[1] == 0xBB, pendingHeader[2] == 0xBF {
                pendingHeader.removeFirst(3)
            } else if pendingHeader.count < 3 && !(pendingHeader.isEmpty) && [0xEF, 0xBB, 0xBF].starts(with: pendingHeader) {
                return out  // wait for the rest of a possible BOM
            }
            // Detect the separator once the first line is in.
            if separator == nil {
                guard let end = firstLineEnd(pendingHeader) else {
                    if pendingHeader.count > 1 << 20 { throw Malformed(line: 1, reason: "the header line is longer than 1 MiB") }
                    return out
                }
                separator = detectSeparator(pendingHeader[..<end])
            }
            input = pendingHeader
            pendingHeader = []
            start = false
        }
        let sep = separator!
        for byte in input {
            if afterCR {
                afterCR = false
                if byte == 0x0A { continue }
            }
            if inQuotes {
                if quoteInQuoted {
                    quoteInQuoted = false
                    if byte == 0x22 {
                        bytes.append(0x22)
                        continue
                    }
                    inQuotes = false
                    // fall through: the byte after a closing quote is handled as unquoted
                } else if byte == 0x22 {
                    quoteInQuoted = true
                    continue
                } else {
                    if byte == 0x0A || byte == 0x0D { line += 1 }
                    if byte == 0x0D { afterCR = false }
                    bytes.append(byte)
                    if bytes.count - fieldStart > maxFieldBytes { throw Malformed(line: recordLine, reason: "a field is longer than \(maxFieldBytes) bytes (unclosed quote?)") }
                    continue
                }
            }
            switch byte {
            case sep:
                endField()
            case 0x0D, 0x0A:
                if byte == 0x0D { afterCR = true }
                endField()
                if let record = endRecord() { out.append(record) }
                line += 1
                recordLine = line
            case 0x22 where !fieldStarted && bytes.count == fieldStart:
                inQuotes = true
                fieldStarted = true
            default:
                fieldStarted = true
                bytes.append(byte)
                if bytes.count - fieldStart > maxFieldBytes { throw Malformed(line: recordLine, reason: "a field is longer than \(maxFieldBytes) bytes") }
            }
        }
        return out
    }

    private mutating func endField() {
        ends.append(bytes.count)
        fieldStart = bytes.count
        fieldStarted = false
    }

    /// The record read so far (none for a blank line), and a fresh one begun with room for as much.
    private mutating func endRecord() -> Record? {
        defer {
            let (size, count) = (bytes.count, ends.count)
            bytes = []
            bytes.reserveCapacity(size)
            ends = []
            ends.reserveCapacity(count)
            fieldStart = 0
        }
        if ends.count == 1 && ends[0] == 0 { return nil }
        return Record(line: recordLine, bytes: bytes, ends: ends)
    }

    /// Ends the input; returns the last record if the file did not end with a line break.
    public mutating func finish() throws -> [Record] {
        if start {
            start = false
            if separator == nil { separator = detectSeparator(pendingHeader[...]) }
            let bytes = pendingHeader
            pendingHeader = []
            var out = try feed(bytes)
            out += try finish()
            return out
        }
        if inQuotes && !quoteInQuoted { throw Malformed(line: recordLine, reason: "a quoted field is not closed") }
        inQuotes = false
        quoteInQuoted = false
        if bytes.count > fieldStart || !ends.isEmpty {
            endField()
            return endRecord().map { [$0] } ?? []
        }
        return []
    }

    private func firstLineEnd(_ bytes: [UInt8]) -> Int? {
        var quoted = false
        for (i, b) in bytes.enumerated() {
            if b == 0x22 { quoted.toggle() }
            if !quoted && (b == 0x0A || b == 0x0D) { return i }
        }
        return nil
    }

    /// The most frequent of `;`, `,` and tab outside quotes on the header line.
    private func detectSeparator(_ line: ArraySlice<UInt8>) -> UInt8 {
        var counts: [UInt8: Int] = [0x3B: 0, 0x2C: 0, 0x09: 0, 0x7C: 0]
        var quoted = false
        for b in line {
            if b == 0x22 { quoted.toggle() }
            if !quoted, counts[b] != nil { counts[b]! += 1 }
        }
        let best = counts.max { a, b in a.value < b.value || (a.value == b.value && a.key < b.key) }!
        return best.value == 0 ? 0x2C : best.key
    }
}

/// Splits a JSON array of objects, or newline-delimited JSON objects, into one byte string per
/// object, incrementally: the file is never held whole.
public struct JSONRecordSplitter {
    private var depth = 0
    private var inString = false
    private var escaped = false
    private var current: [UInt8] = []
    private var sawArray = false
    private var index = 0
    public var maxRecordBytes = 256 * 1024

    public struct Malformed: Error {
        public let record: Int
        public let reason: String
    }

    public init() {}

    /// - Returns: complete top-level objects (with their 1-based position) in this chunk.
    public mutating func feed(_ chunk: some Sequence<UInt8>) throws -> [(Int, [UInt8])] {
        var out: [(Int, [UInt8])] = []
        for byte in chunk {
            if depth == 0 {
                switch byte {
                case 0x7B:  // {
                    depth = 1
                    current = [byte]
                case 0x5B where !sawArray:  // [
                    sawArray = true
                case 0x20, 0x09, 0x0A, 0x0D, 0x2C, 0x5D, 0xEF, 0xBB, 0xBF:
                    continue
                default:
                    throw Malformed(record: index + 1, reason: "expected a JSON object")
                }
                continue
            }
            current.append(byte)
            if current.count > maxRecordBytes { throw Malformed(record: index + 1, reason: "a record is larger than \(maxRecordBytes) bytes") }
            if inString {
                if escaped { escaped = false }
                else if byte == 0x5C { escaped = true }
                else if byte == 0x22 { inString = false }
                continue
            }
            switch byte {
            case 0x22: inString = true
            case 0x7B, 0x5B: depth += 1
            case 0x7D, 0x5D:
                depth -= 1
                if depth == 0 {
                    index += 1
                    out.append((index, current))
                    current = []
                }
            default: break
            }
        }
        return out
    }

    public func finish() throws {
        if depth != 0 { throw Malformed(record: index + 1, reason: "the last record is not complete") }
    }
}
