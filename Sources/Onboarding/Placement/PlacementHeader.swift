import Foundation

/// How a creditor's file names its columns, when the aliases are not enough: source header ->
/// the field it holds, or `ignore` for a column Relance does not use (a cost centre, a sales
/// rep). Headers are matched as the aliases are (case, accents, spaces and punctuation folded).
/// Saved per creditor (versioned) or given with one upload.
public struct ColumnMapping: Sendable {
    public enum Target: Sendable, Equatable, Hashable {
        case field(PlacementColumn)
        case ignore

        public var name: String {
            switch self {
            case .field(let column): return column.rawValue
            case .ignore: return "ignore"
            }
        }
    }

    /// Source headers as the creditor wrote them, with their targets, in a stable order.
    public let columns: [(source: String, target: Target)]

    /// Checks a mapping as sent (`{"Référence client": "debtor_reference", "Centre de coût": "ignore"}`).
    /// - Parameter root: the name of the mapping in the request, which each fault's field starts
    ///   with (`columns` in a saved mapping's body, `mapping` for an upload's parameter).
    /// - Throws: `MappingProblem` listing each fault with the field it concerns (`<root>.<source>`).
    public init(_ sent: [String: String], root: String = "columns") throws {
        var problems: [(field: String, reason: String)] = []
        var bySource: [String: String] = [:]
        var byTarget: [PlacementColumn: String] = [:]
        var out: [(source: String, target: Target)] = []
        if sent.isEmpty { problems.append((root, "must map at least one column")) }
        if sent.count > 200 { problems.append((root, "must map at most 200 columns")) }
        for (source, name) in sent.sorted(by: { $0.key < $1.key }) {
            let field = "\(root).\(PlacementHeader.shown(source))"
            let key = PlacementColumn.normalise(source)
            if key.isEmpty || source.count > 200 {
                problems.append((field, "must be a column header of 1 to 200 characters with a letter or digit"))
                continue
            }
            if let earlier = bySource[key] {
                problems.append((field, "is the same header as '\(earlier.prefix(60))' (case, accents and spacing do not count)"))
                continue
            }
            bySource[key] = source
            let target: Target
            if PlacementColumn.normalise(name) == "ignore" {
                target = .ignore
            } else if let column = PlacementColumn(rawValue: name) {
                target = .field(column)
                if let earlier = byTarget[column] {
                    problems.append((field, "maps to \(column.rawValue), as '\(earlier.prefix(60))' does: one column per field"))
                    continue
                }
                byTarget[column] = source
            } else {
                let closest = PlacementHeader.suggestions(for: name, limit: 3).map(\.rawValue)
                problems.append((field, "'\(name.prefix(60))' is not a field; " + (closest.isEmpty ? "see Docs/placements.md" : "closest: \(closest.joined(separator: ", "))")
                    + " (or ignore)"))
                continue
            }
            out.append((source, target))
        }
        guard problems.isEmpty else { throw MappingProblem(errors: problems) }
        columns = out
        lookup = Dictionary(uniqueKeysWithValues: out.map { (PlacementColumn.normalise($0.source), $0.target) })
    }

    /// The fields a mapping must give, as a file must: what the required fields are is the
    /// header's rule (`PlacementHeader.missingRequired`).
    public func missingRequired() -> [String] {
        PlacementHeader.missingRequired(Set(columns.compactMap { if case .field(let c) = $0.target { return c } else { return nil } }))
    }

    /// The mapping as sent and stored: source header -> field name or `ignore`.
    public var dictionary: [String: String] {
        Dictionary(uniqueKeysWithValues: columns.map { ($0.source, $0.target.name) })
    }

    /// Normalised source header -> target, made once (JSON records look every key up).
    let lookup: [String: Target]

    public struct MappingProblem: Error, Sendable {
        public let errors: [(field: String, reason: String)]
    }
}

/// A file's header row read: which field each column holds, and how it was recognised.
public struct PlacementHeader: Sendable {
    /// How a source column was read.
    public struct Reading: Sendable, Codable, Equatable {
        public var source: String
        /// The field, `ignore`, or nil for a column with an empty header (skipped).
        public var field: String?
        /// `mapping`, `alias` or `empty`.
        public var by: String
    }

    /// The field of each column, in file order (nil: not read).
    public let columns: [PlacementColumn?]
    public let readings: [Reading]

    /// Reads a header row: each cell through the mapping first, then the aliases.
    /// - Throws: `HeaderProblem` listing every unknown column with the closest known fields,
    ///   every column read twice, and every required field missing.
    public init(headers: [String], mapping: ColumnMapping? = nil) throws {
        let mapped = mapping?.lookup ?? [:]
        var seen: [PlacementColumn: String] = [:]
        var problems: [String] = []
        var columns: [PlacementColumn?] = []
        var readings: [Reading] = []
        let keys = headers.map(PlacementColumn.normalise)
        func alias(_ key: String) -> PlacementColumn? { mapped[key] == nil ? PlacementColumn.byAlias[key] : nil }
        // `Nom` is the debtor's whole name alone, but the surname beside `Prénom` or beside
        // a company name column.
        let targets = keys.map { key -> PlacementColumn? in
            if case .field(let column)? = mapped[key] { return column }
            return alias(key)
        }
        let nomIsSurname = targets.contains(.firstName) || zip(keys, targets).contains { $0 != "nom" && $1 == .debtorName }
        for (header, key) in zip(headers, keys) {
            let shown = Self.shown(header)
            if let target = mapped[key] {
                switch target {
                case .ignore:
                    columns.append(nil)
                    readings.append(Reading(source: shown, field: "ignore", by: "mapping"))
                case .field(let column):
                    if let previous = seen[column] { problems.append("columns '\(previous)' and '\(shown)' both mean \(column.rawValue)") }
                    seen[column] = shown
                    columns.append(column)
                    readings.append(Reading(source: shown, field: column.rawValue, by: "mapping"))
                }
                continue
            }
            if key.isEmpty {
                columns.append(nil)
                readings.append(Reading(source: shown, field: nil, by: "empty"))
                continue
            }
            var column = PlacementColumn.byAlias[key]
            if key == "nom" && nomIsSurname && !targets.contains(.lastName) { column = .lastName }
            guard let column else {
                let closest = Self.suggestions(for: header, limit: 3).map(\.rawValue)
                problems.append(
                    "unknown column '\(shown)'" + (closest.isEmpty ? "" : ": closest fields \(closest.joined(separator: ", "))")
                        + "; map it to a field, or to ignore")
                columns.append(nil)
                continue
            }
            if let previous = seen[column] { problems.append("columns '\(previous)' and '\(shown)' both mean \(column.rawValue)") }
            seen[column] = shown
            columns.append(column)
            readings.append(Reading(source: shown, field: column.rawValue, by: "alias"))
        }
        problems += Self.missingRequired(Set(seen.keys)).map { "required column \($0) is missing" }
        guard problems.isEmpty else { throw HeaderProblem(reasons: problems) }
        self.columns = columns
        self.readings = readings
    }

    /// The field a JSON record's key holds: through the mapping, then the aliases; `.ignore`
    /// for a key the mapping ignores, nil for an unknown key.
    static func target(ofKey key: String, mapping: ColumnMapping?) -> (target: ColumnMapping.Target, by: String)? {
        let normalised = PlacementColumn.normalise(key)
        if let target = mapping?.lookup[normalised] { return (target, "mapping") }
        return PlacementColumn.byAlias[normalised].map { (.field($0), "alias") }
    }

    /// The required fields `present` lacks: the due date, the amount, a reference for the claim
    /// (`creditor_reference`, or `invoice_number` standing for it) and the debtor's name
    /// (`debtor_name`, or `last_name`).
    static func missingRequired(_ present: Set<PlacementColumn>) -> [String] {
        var missing: [String] = []
        if !present.contains(.creditorReference) && !present.contains(.invoiceNumber) { missing.append("creditor_reference (or invoice_number)") }
        if !present.contains(.dueDate) { missing.append("due_date") }
        if !present.contains(.amount) { missing.append("amount") }
        if !present.contains(.debtorName) && !present.contains(.lastName) { missing.append("debtor_name (or last_name)") }
        return missing
    }

    /// The fields whose names or aliases are closest to `header`, the closest first: by shared
    /// words (`Réf. dossier client` and `reference_dossier`, `ref_client`) and by edit distance
    /// (`Echance` and `echeance`, from 60 % alike); at least half alike.
    static func suggestions(for header: String, limit: Int) -> [PlacementColumn] {
        let key = PlacementColumn.normalise(header)
        guard !key.isEmpty else { return [] }
        let words = key.split(separator: "_")
        // `ref` and `reference`, `num` and `numero`: a word that begins another is the same word.
        func same(_ a: Substring, _ b: Substring) -> Bool { a == b || (min(a.count, b.count) >= 3 && (a.hasPrefix(b) || b.hasPrefix(a))) }
        var best: [PlacementColumn: Double] = [:]
        for column in PlacementColumn.allCases {
            for alias in [column.rawValue] + column.aliases {
                let candidate = PlacementColumn.normalise(alias)
                let candidateWords = candidate.split(separator: "_")
                let matched = words.filter { word in candidateWords.contains { same(word, $0) } }.count
                let shared = Double(matched) / Double(max(words.count, candidateWords.count))
                let distance = Double(editDistance(Array(key.utf8), Array(candidate.utf8)))
                let close = 1 - distance / Double(max(key.utf8.count, candidate.utf8.count))
                // Spelling counts from 60 % alike (`Echance`/`echeance`), so that a word merely as
                // long as another (`Commercial`/`courriel`) suggests nothing.
                best[column] = max(best[column] ?? 0, shared, close >= 0.6 ? close : 0)
            }
        }
        return best.filter { $0.value >= 0.5 }.sorted { $0.value == $1.value ? $0.key.ordinal < $1.key.ordinal : $0.value > $1.value }
            .prefix(limit).map(\.key)
    }

    /// Levenshtein distance (headers are short).
    static func editDistance(_ a: [UInt8], _ b: [UInt8]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }

    /// A header or JSON key as shown back (readings, problems, rejects): without control
    /// characters (NUL above all, which PostgreSQL text and jsonb cannot hold), at most `limit`
    /// characters.
    static func shown(_ text: String, limit: Int = 60) -> String {
        String(String.UnicodeScalarView(text.unicodeScalars.filter { $0.value >= 0x20 && $0.value != 0x7F })).prefix(limit).description
    }

    public struct HeaderProblem: Error, Sendable {
        public let reasons: [String]
    }
}
