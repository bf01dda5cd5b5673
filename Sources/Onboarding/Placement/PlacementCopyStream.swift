import Core
import Foundation
import Postgres

/// Turns a placement file's bytes, as they arrive, into binary COPY data for `placement_rows`:
/// parse, check each row, write the good ones and the reasons for the bad ones. Memory stays
/// bounded by the size of one chunk, whatever the file's size.
struct PlacementCopyStream<Base: AsyncSequence>: AsyncSequence where Base.Element == [UInt8] {
    typealias Element = [UInt8]

    let base: Base
    let format: PlacementService.Format
    let validator: PlacementRowValidator
    let creditor: [UInt8]
    let placement: [UInt8]
    let maxBytes: Int
    let tally: PlacementService.Tally
    let ids: PlacementIDs
    /// The creditor's saved mapping or the upload's own; nil: the aliases alone.
    let mapping: ColumnMapping?

    func makeAsyncIterator() -> Iterator {
        Iterator(stream: self, base: base.makeAsyncIterator(), ids: ids)
    }

    struct Iterator: AsyncIteratorProtocol {
        let stream: PlacementCopyStream
        var base: Base.AsyncIterator
        var ids: PlacementIDs
        var csv = CSVStreamParser()
        var json = JSONRecordSplitter()
        var columns: [PlacementColumn?]? = nil
        var finished = false
        /// CSV records read and not yet checked: checked a batch at a time, in two halves at once.
        var pending: [CSVStreamParser.Record] = []
        var started = false

        /// COPY data is handed on in pieces of about this size: large enough that the server
        /// has a good piece to work on while the next is produced, small enough for memory.
        static var batchBytes: Int { 256 * 1024 }
        /// CSV records checked together; the two halves of a batch are checked and written at
        /// the same time (the upload's own work is most of its time on a busy machine).
        static var batchRecords: Int { 2048 }

        mutating func next() async throws -> [UInt8]? {
            var out: [UInt8] = []
            if !started {
                started = true
                out += CopyBinary.header
            }
            while !finished {
                guard let chunk = try await base.next() else {
                    finished = true
                    switch stream.format {
                    case .csv:
                        let records = pending + (try csv.finish())
                        pending = []
                        try await handle(csv: records, into: &out)
                    case .json, .ndjson: try json.finish()
                    }
                    out += CopyBinary.trailer
                    break
                }
                stream.tally.bytes += chunk.count
                if stream.tally.bytes > stream.maxBytes { throw Problem.tooLarge(limit: stream.maxBytes) }
                stream.tally.hasher.update(data: chunk)
                if out.capacity == 0 { out.reserveCapacity(Self.batchBytes + 4 * chunk.count) }
                switch stream.format {
                case .csv:
                    pending += try csv.feed(chunk)
                    if pending.count >= Self.batchRecords {
                        let records = pending
                        pending = []
                        try await handle(csv: records, into: &out)
                    }
                case .json, .ndjson: try handle(json: try json.feed(chunk), into: &out)
                }
                if out.count >= Self.batchBytes { return out }
            }
            return out.isEmpty ? nil : out
        }

        mutating func handle(csv records: [CSVStreamParser.Record], into out: inout [UInt8]) async throws {
            var start = 0
            if columns == nil {
                guard let header = records.first else { return }
                let read = try PlacementHeader(headers: header.fields.map(TextDecoding.decode), mapping: stream.mapping)
                self.columns = read.columns
                stream.tally.readings = read.readings
                start = 1
            }
            guard let columns, start < records.count else { return }
            let batch = records[start...]
            let firstRow = stream.tally.received + 2  // the header is row 1, as a spreadsheet shows it
            let (creditor, placement, validator) = (stream.creditor, stream.placement, stream.validator)
            if batch.count < 64 {
                let (bytes, rejected) = Self.encode(batch, firstRow: firstRow, columns: columns, validator: validator, creditor: creditor, placement: placement, ids: &ids)
                out += bytes
                stream.tally.received += batch.count
                stream.tally.rejected += rejected
                return
            }
            let middle = batch.startIndex + batch.count / 2
            let head = batch[..<middle]
            let tail = batch[middle...]
            let headIDs = ids.fork()
            let tailFirstRow = firstRow + head.count
            async let headPart = { [headIDs] in
                var ids = headIDs
                return Self.encode(head, firstRow: firstRow, columns: columns, validator: validator, creditor: creditor, placement: placement, ids: &ids)
            }()
            let tailPart = Self.encode(tail, firstRow: tailFirstRow, columns: columns, validator: validator, creditor: creditor, placement: placement, ids: &ids)
            let headDone = await headPart
            out += headDone.0
            out += tailPart.0
            stream.tally.received += batch.count
            stream.tally.rejected += headDone.1 + tailPart.1
        }

        /// Checks records and writes their COPY data; the first is row `firstRow`.
        /// - Returns: the data, and how many rows were refused.
        static func encode(
            _ records: ArraySlice<CSVStreamParser.Record>, firstRow: Int, columns: [PlacementColumn?], validator: PlacementRowValidator,
            creditor: [UInt8], placement: [UInt8], ids: inout PlacementIDs
        ) -> ([UInt8], Int) {
            var out: [UInt8] = []
            out.reserveCapacity(records.count * 320)
            var rejected = 0
            for (offset, record) in records.enumerated() {
                let row = firstRow + offset
                let result: Result<StagedRow, RejectedRow>
                if record.count > columns.count && (columns.isEmpty ? 0 : record.ends[columns.count - 1]) < record.bytes.count {
                    result = .failure(RejectedRow(rowNumber: row, field: "row", reason: "has \(record.count) fields, the header has \(columns.count)"))
                } else {
                    var values = [String?](repeating: nil, count: PlacementColumn.caseCount)
                    for (index, column) in columns.enumerated() where index < record.count {
                        if let column {
                            let field = record[index]
                            if !field.isEmpty { values[column.ordinal] = TextDecoding.decode(field) }
                        }
                    }
                    let mayHoldNUL = record.bytes.contains(0)
                    result = validator.validate(row: row, mayHoldNUL: mayHoldNUL) { values[$0.ordinal] }
                }
                switch result {
                case .success(let staged):
                    StagedRowCopy.line(creditor: creditor, placement: placement, staged, ids: &ids, into: &out)
                case .failure(let refused):
                    rejected += 1
                    StagedRowCopy.rejectLine(creditor: creditor, placement: placement, refused, into: &out)
                }
            }
            return (out, rejected)
        }

        mutating func handle(json records: [(Int, [UInt8])], into out: inout [UInt8]) throws {
            for (index, bytes) in records {
                stream.tally.received += 1
                guard let object = try? JSONDecoder().decode([String: JSONScalar].self, from: Data(bytes)) else {
                    emit(.failure(RejectedRow(rowNumber: index, field: "record", reason: "is not a JSON object")), into: &out)
                    continue
                }
                var values: [PlacementColumn: String] = [:]
                var unknown: String? = nil
                var refused: RejectedRow? = nil
                for (key, value) in object.sorted(by: { $0.key < $1.key }) {
                    let found = PlacementHeader.target(ofKey: key, mapping: stream.mapping)
                    stream.tally.read(key: key, as: found)
                    guard case .field(let column)? = found?.target else {
                        if found?.target == .ignore { continue }
                        // Named in the rejects file: control characters (NUL above all, which
                        // PostgreSQL text cannot hold) are left out.
                        unknown = unknown ?? PlacementHeader.shown(key, limit: 40)
                        continue
                    }
                    switch value {
                    case .text(let s): values[column] = s
                    case .null: break
                    case .other:
                        refused = refused ?? RejectedRow(rowNumber: index, field: column.rawValue, reason: "must be a string or a number")
                    }
                }
                if let refused {
                    emit(.failure(refused), into: &out)
                    continue
                }
                if let unknown {
                    emit(.failure(RejectedRow(rowNumber: index, field: unknown, reason: "is not a known field (see Docs/placements.md)")), into: &out)
                    continue
                }
                guard !values.isEmpty else {
                    emit(.failure(RejectedRow(rowNumber: index, field: "record", reason: "has no fields")), into: &out)
                    continue
                }
                emit(stream.validator.validate(row: index) { values[$0] }, into: &out)
            }
        }

        mutating func emit(_ result: Result<StagedRow, RejectedRow>, into out: inout [UInt8]) {
            switch result {
            case .success(let row):
                StagedRowCopy.line(creditor: stream.creditor, placement: stream.placement, row, ids: &ids, into: &out)
            case .failure(let rejected):
                stream.tally.rejected += 1
                StagedRowCopy.rejectLine(creditor: stream.creditor, placement: stream.placement, rejected, into: &out)
            }
        }
    }
}

/// A JSON value as a placement record field: text (strings, and numbers written exactly),
/// null, or anything else (refused).
enum JSONScalar: Decodable {
    case text(String)
    case null
    case other

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let string = try? container.decode(String.self) {
            self = .text(string)
        } else if (try? container.decode(Bool.self)) != nil {
            self = .other
        } else if let number = try? container.decode(Decimal.self) {
            self = .text(number.description)
        } else {
            self = .other
        }
    }
}
