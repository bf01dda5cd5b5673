import Core
import Foundation

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
        var started = false

        /// COPY data is handed on in pieces of about this size: large enough that the server
        /// has a good piece to work on while the next is produced, small enough for memory.
        static var batchBytes: Int { 256 * 1024 }

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
                    case .csv: try handle(csv: try csv.finish(), into: &out)
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
                case .csv: try handle(csv: try csv.feed(chunk), into: &out)
                case .json, .ndjson: try handle(json: try json.feed(chunk), into: &out)
                }
                if out.count >= Self.batchBytes { return out }
            }
            return out.isEmpty ? nil : out
        }

        mutating func handle(csv records: [CSVStreamParser.Record], into out: inout [UInt8]) throws {
            for record in records {
                guard let columns else {
                    self.columns = try PlacementColumn.map(headers: record.fields.map(TextDecoding.decode))
                    continue
                }
                stream.tally.received += 1
                let row = stream.tally.received + 1  // the header is row 1, as a spreadsheet shows it
                if record.fields.count > columns.count && record.fields[columns.count...].contains(where: { !$0.isEmpty }) {
                    emit(.failure(RejectedRow(rowNumber: row, field: "row", reason: "has \(record.fields.count) fields, the header has \(columns.count)")), into: &out)
                    continue
                }
                var values = [String?](repeating: nil, count: PlacementColumn.caseCount)
                for (index, column) in columns.enumerated() where index < record.fields.count {
                    if let column, !record.fields[index].isEmpty { values[column.ordinal] = TextDecoding.decode(record.fields[index]) }
                }
                let mayHoldNUL = record.fields.contains { $0.contains(0) }
                emit(stream.validator.validate(row: row, mayHoldNUL: mayHoldNUL) { values[$0.ordinal] }, into: &out)
            }
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
                    guard let column = PlacementColumn.byAlias[PlacementColumn.normalise(key)] else {
                        // Named in the rejects file: control characters (NUL above all, which
                        // PostgreSQL text cannot hold) are left out.
                        unknown = unknown ?? String(String.UnicodeScalarView(key.unicodeScalars.filter { $0.value >= 0x20 && $0.value != 0x7F }.prefix(40)))
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
                CopyBinary.line(creditor: stream.creditor, placement: stream.placement, row, ids: &ids, into: &out)
            case .failure(let rejected):
                stream.tally.rejected += 1
                CopyBinary.rejectLine(creditor: stream.creditor, placement: stream.placement, rejected, into: &out)
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
