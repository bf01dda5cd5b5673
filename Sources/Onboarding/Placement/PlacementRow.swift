import Crypto
import Foundation
import Postgres

/// Field bytes to text: UTF-8 when valid, else Windows-1252 (what older French tools write).
enum TextDecoding {
    static let cp1252High: [Character] = [
        "€", "\u{81}", "‚", "ƒ", "„", "…", "†", "‡", "ˆ", "‰", "Š", "‹", "Œ", "\u{8D}", "Ž", "\u{8F}",
        "\u{90}", "‘", "’", "“", "”", "•", "–", "—", "˜", "™", "š", "›", "œ", "\u{9D}", "ž", "Ÿ",
    ]

    static func decode(_ bytes: [UInt8]) -> String { decode(bytes[...]) }

    static func decode(_ bytes: ArraySlice<UInt8>) -> String {
        if bytes.allSatisfy({ $0 < 0x80 }) { return String(decoding: bytes, as: UTF8.self) }
        if let utf8 = String(validating: bytes, as: UTF8.self) { return utf8 }
        var out = ""
        out.reserveCapacity(bytes.count)
        for b in bytes {
            switch b {
            case 0..<0x80: out.unicodeScalars.append(Unicode.Scalar(b))
            case 0x80..<0xA0: out.append(cp1252High[Int(b - 0x80)])
            default: out.unicodeScalars.append(Unicode.Scalar(b))  // Latin-1 range
            }
        }
        return out
    }
}

/// One row checked and normalised, ready to stage.
public struct StagedRow: Sendable {
    public var rowNumber: Int
    public var creditorReference: String
    public var invoiceNumber: String
    public var issueDate: CalendarDate?
    public var dueDate: CalendarDate
    public var principalMinor: Int
    public var currency: String
    public var debtorKind: String
    public var debtorName: String
    public var firstName: String?
    public var lastName: String?
    public var siren: String?
    public var birthDate: CalendarDate?
    public var email: String?
    public var phone: String?
    public var addressLine1: String?
    public var addressLine2: String?
    public var postalCode: String?
    public var city: String?
    public var country: String
    public var timeZone: String
    public var language: String
    /// The creditor's own reference of the debtor (customer account), when the file has one.
    public var debtorReference: String? = nil

    /// Identifiers that recognise the debtor again; the creditor's own reference of the debtor
    /// first (it groups a new debtor's rows).
    public var matchKeys: [String] {
        var keys: [String] = []
        if let debtorReference { keys.append("acct:" + debtorReference) }
        if let siren { keys.append("siren:" + siren) }
        if let email { keys.append("email:" + email) }
        if let phone { keys.append("phone:" + phone) }
        if let birthDate { keys.append("nb:" + Validators.normalisedName(debtorName) + "|" + birthDate.description) }
        return keys
    }

    /// Rows of one new debtor share this key; a row with no identifier is a debtor of its own.
    public var groupKey: String { matchKeys.first ?? "ref:" + creditorReference }

    /// A digest of everything the row says: the same row placed again is "unchanged".
    /// (SHA-256 of the fields joined by U+001F, an absent one written U+0000.)
    public var hash: SHA256Digest {
        var buffer: [UInt8] = []
        buffer.reserveCapacity(256)
        var first = true
        func separate() { if first { first = false } else { buffer.append(0x1F) } }
        func add(_ s: String?) {
            separate()
            if let s { buffer.append(contentsOf: s.utf8) } else { buffer.append(0) }
        }
        func add(_ d: CalendarDate?) {
            separate()
            if let d { CopyText.iso(d, into: &buffer) } else { buffer.append(0) }
        }
        add(creditorReference)
        add(invoiceNumber)
        add(issueDate)
        add(dueDate as CalendarDate?)
        separate()
        CopyText.number(principalMinor, into: &buffer)
        add(currency)
        add(debtorKind)
        add(debtorName)
        add(firstName)
        add(lastName)
        add(siren)
        add(birthDate)
        add(email)
        add(phone)
        add(addressLine1)
        add(addressLine2)
        add(postalCode)
        add(city)
        add(country)
        add(timeZone)
        add(language)
        // Added after the others, and only when present: rows without it keep their digest.
        if let debtorReference { add(debtorReference) }
        return SHA256.hash(data: buffer)
    }
}

/// A row that was refused, with the first field at fault (never the value).
public struct RejectedRow: Error, Sendable {
    public var rowNumber: Int
    public var field: String
    public var reason: String
}

/// Checks one row of a placement.
public struct PlacementRowValidator: Sendable {
    public let defaultCurrency: String
    public let defaultCountry: String
    public let today: CalendarDate

    /// The usual spellings, to skip locale-aware folding on every row.
    static let kindWords: [String: String] = [
        "entreprise": "entreprise", "Entreprise": "entreprise", "particulier": "particulier", "Particulier": "particulier",
        "company": "company", "person": "person", "société": "societe", "Société": "societe",
    ]

    public init(defaultCurrency: String, defaultCountry: String, today: CalendarDate) {
        self.defaultCurrency = defaultCurrency
        self.defaultCountry = defaultCountry
        self.today = today
    }

    /// - Parameters:
    ///   - mayHoldNUL: false when the caller has already seen that no field holds U+0000.
    ///   - value: the row's text for a column (nil or empty when absent).
    public func validate(row: Int, mayHoldNUL: Bool = true, _ value: (PlacementColumn) -> String?) -> Result<StagedRow, RejectedRow> {
        func get(_ column: PlacementColumn) -> String? {
            guard let raw = value(column) else { return nil }
            let v = Validators.trimmed(raw)
            return v.isEmpty ? nil : v
        }
        func reject(_ column: PlacementColumn, _ reason: String) -> Result<StagedRow, RejectedRow> {
            .failure(RejectedRow(rowNumber: row, field: column.rawValue, reason: reason))
        }
        func text(_ column: PlacementColumn, max: Int) -> (String?, Bool) {
            guard let v = get(column) else { return (nil, true) }
            // On bytes: control characters (line breaks included) are ASCII; the length is
            // counted in characters only when the bytes alone could exceed it.
            return (v, Validators.isOneLine(v) && (v.utf8.count <= max || v.count <= max))
        }
        // PostgreSQL text cannot hold U+0000: such a field is refused here, not by COPY (which
        // would fail the whole upload).
        for column in PlacementColumn.allCases where mayHoldNUL && value(column)?.utf8.contains(0) == true {
            return reject(column, "contains a NUL character")
        }
        let (invoice, invoiceOK) = text(.invoiceNumber, max: 100)
        if !invoiceOK { return reject(.invoiceNumber, "must be at most 100 characters on one line") }
        // A file without references of its own (an accounting export) names each claim by its
        // invoice number, which French law makes unique per issuer.
        guard let reference = get(.creditorReference) ?? invoice else {
            return reject(.creditorReference, "is required (or an invoice_number to stand for it)")
        }
        if reference.count > 100 { return reject(.creditorReference, "must be at most 100 characters") }
        let (account, accountOK) = text(.debtorReference, max: 100)
        if !accountOK { return reject(.debtorReference, "must be at most 100 characters on one line") }
        let currency = get(.currency)?.uppercased() ?? defaultCurrency
        guard let exponent = Validators.currencies[currency] else { return reject(.currency, "is not a supported ISO 4217 currency") }
        guard let amountText = get(.amount) else { return reject(.amount, "is required") }
        guard let amount = Validators.amount(amountText, exponent: exponent) else {
            return reject(.amount, "is not an amount (write 1234,56 or 1234.56, at most \(exponent) decimals)")
        }
        if amount <= 0 { return reject(.amount, "must be greater than zero") }
        guard let dueText = get(.dueDate) else { return reject(.dueDate, "is required") }
        guard let due = Validators.date(dueText) else { return reject(.dueDate, "is not a date (dd/mm/yyyy or yyyy-mm-dd)") }
        if due > today { return reject(.dueDate, "is after the placement date: the claim is not yet due") }
        if due.year < 1970 { return reject(.dueDate, "is before 1970") }
        var issue: CalendarDate? = nil
        if let issueText = get(.issueDate) {
            guard let d = Validators.date(issueText) else { return reject(.issueDate, "is not a date (dd/mm/yyyy or yyyy-mm-dd)") }
            if d > due { return reject(.issueDate, "is after the due date") }
            issue = d
        }
        let (first, firstOK) = text(.firstName, max: 100)
        let (last, lastOK) = text(.lastName, max: 100)
        let (nameGiven, nameOK) = text(.debtorName, max: 200)
        if !firstOK { return reject(.firstName, "must be at most 100 characters on one line") }
        if !lastOK { return reject(.lastName, "must be at most 100 characters on one line") }
        if !nameOK { return reject(.debtorName, "must be at most 200 characters on one line") }
        var siren: String? = nil
        if let s = get(.siren) {
            let digitCount = s.utf8.allSatisfy({ $0 < 0x80 }) ? s.utf8.reduce(0) { $0 + ($1 >= 0x30 && $1 <= 0x39 ? 1 : 0) } : s.filter(\.isNumber).count
            guard let valid = digitCount == 14 ? Validators.siret(s.filter(\.isNumber)).map({ String($0.prefix(9)) }) : Validators.siren(s) else {
                return reject(.siren, "is not a valid SIREN or SIRET (checksum)")
            }
            siren = valid
        }
        var kind: String
        if let t = get(.debtorType) {
            switch Self.kindWords[t] ?? PlacementColumn.normalise(t) {
            case "company", "entreprise", "societe", "business", "b2b", "professionnel", "pro", "personne_morale", "morale": kind = "company"
            case "person", "personne", "particulier", "consumer", "b2c", "individual", "personne_physique", "physique": kind = "person"
            default: return reject(.debtorType, "must be person or company (particulier or entreprise)")
            }
        } else {
            kind = siren != nil ? "company" : "person"
        }
        if kind == "person" && siren != nil && get(.debtorType) != nil { kind = "person" }
        let name = nameGiven ?? [first, last].compactMap { $0 }.joined(separator: " ")
        if name.isEmpty { return reject(.debtorName, "is required (or first_name and last_name)") }
        var birth: CalendarDate? = nil
        if let b = get(.birthDate) {
            guard let d = Validators.date(b) else { return reject(.birthDate, "is not a date (dd/mm/yyyy or yyyy-mm-dd)") }
            if d >= today || d.year < 1900 { return reject(.birthDate, "is not a plausible birth date") }
            birth = d
        }
        let country = get(.country)?.uppercased() ?? defaultCountry
        guard let defaults = Validators.countries[country] else { return reject(.country, "is not a supported ISO 3166 country code") }
        var email: String? = nil
        if let e = get(.email) {
            guard let valid = Validators.email(e) else { return reject(.email, "is not an email address") }
            email = valid
        }
        var phone: String? = nil
        if let p = get(.phone) {
            guard let valid = Validators.phone(p, country: country) else { return reject(.phone, "is not a phone number") }
            phone = valid
        }
        let zone = get(.timeZone) ?? defaults.zone
        if !Validators.isTimeZone(zone) { return reject(.timeZone, "is not an IANA time zone such as Europe/Paris") }
        let language = get(.language)?.lowercased() ?? defaults.language
        if language.count != 2 || !language.allSatisfy({ $0.isASCII && $0.isLetter }) { return reject(.language, "must be a two-letter code such as fr") }
        // A quoted address may hold line breaks: its first line is line 1, the rest line 2.
        var line1 = get(.addressLine1)
        var line2 = get(.addressLine2)
        if let full = line1, full.contains(where: \.isNewline) {
            let lines = full.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            line1 = lines.first
            let rest = lines.dropFirst().joined(separator: ", ")
            if !rest.isEmpty { line2 = [rest, line2].compactMap { $0 }.joined(separator: ", ") }
        }
        if let l2 = line2, l2.contains(where: \.isNewline) {
            line2 = l2.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }.joined(separator: ", ")
        }
        let l1OK = (line1?.count ?? 0) <= 200
        let l2OK = (line2?.count ?? 0) <= 200
        let (postal, pOK) = text(.postalCode, max: 20)
        let (city, cOK) = text(.city, max: 100)
        if !l1OK { return reject(.addressLine1, "must be at most 200 characters on one line") }
        if !l2OK { return reject(.addressLine2, "must be at most 200 characters on one line") }
        if !pOK { return reject(.postalCode, "must be at most 20 characters") }
        if !cOK { return reject(.city, "must be at most 100 characters on one line") }
        return .success(
            StagedRow(
                rowNumber: row, creditorReference: reference, invoiceNumber: invoice ?? reference, issueDate: issue, dueDate: due,
                principalMinor: amount, currency: currency, debtorKind: kind, debtorName: name, firstName: first, lastName: last,
                siren: siren, birthDate: birth, email: email, phone: phone, addressLine1: line1, addressLine2: line2, postalCode: postal,
                city: city, country: country, timeZone: zone, language: language, debtorReference: account))
    }
}

/// Numbers and dates as text, for the row digest (`StagedRow.hash`).
enum CopyText {
    static func number(_ n: Int, into out: inout [UInt8]) {
        if n < 0 { out.append(0x2D) }
        var m = n.magnitude
        var divisor: UInt = 1
        while m / divisor >= 10 { divisor *= 10 }
        repeat {
            out.append(0x30 + UInt8(m / divisor))
            m %= divisor
            divisor /= 10
        } while divisor > 0
    }

    /// `YYYY-MM-DD`, as `CalendarDate.description` writes it.
    static func iso(_ d: CalendarDate, into out: inout [UInt8]) {
        func two(_ n: Int) {
            out.append(0x30 + UInt8(n / 10 % 10))
            out.append(0x30 + UInt8(n % 10))
        }
        two(d.year / 100)
        two(d.year % 100)
        out.append(0x2D)
        two(d.month)
        out.append(0x2D)
        two(d.day)
    }
}

/// A staged row in PostgreSQL's binary COPY format (`CopyBinary`, in the database layer), in
/// the columns of `placement_rows`.
enum StagedRowCopy {
    static let columns =
        "creditor_id, placement_id, row_number, reject_field, reject_reason, creditor_reference, invoice_number, issue_date, due_date, "
        + "principal_minor, currency, debtor_kind, debtor_name, first_name, last_name, siren, birth_date, email, phone, address_line1, "
        + "address_line2, postal_code, city, country, time_zone, language, row_hash, match_keys, group_key, claim_id, debtor_id, case_id"
    static let columnCount = 32

    static func line(creditor: [UInt8], placement: [UInt8], _ row: StagedRow, ids: inout PlacementIDs, into out: inout [UInt8]) {
        CopyBinary.row(fields: columnCount, into: &out)
        CopyBinary.uuid(creditor, into: &out)
        CopyBinary.uuid(placement, into: &out)
        CopyBinary.integer(Int32(row.rowNumber), into: &out)
        CopyBinary.null(into: &out)  // not rejected
        CopyBinary.null(into: &out)
        CopyBinary.text(row.creditorReference, into: &out)
        CopyBinary.text(row.invoiceNumber, into: &out)
        CopyBinary.date(row.issueDate, into: &out)
        CopyBinary.date(row.dueDate, into: &out)
        CopyBinary.bigint(Int64(row.principalMinor), into: &out)
        CopyBinary.text(row.currency, into: &out)
        CopyBinary.text(row.debtorKind, into: &out)
        CopyBinary.text(row.debtorName, into: &out)
        CopyBinary.text(row.firstName, into: &out)
        CopyBinary.text(row.lastName, into: &out)
        CopyBinary.text(row.siren, into: &out)
        CopyBinary.date(row.birthDate, into: &out)
        CopyBinary.text(row.email, into: &out)
        CopyBinary.text(row.phone, into: &out)
        CopyBinary.text(row.addressLine1, into: &out)
        CopyBinary.text(row.addressLine2, into: &out)
        CopyBinary.text(row.postalCode, into: &out)
        CopyBinary.text(row.city, into: &out)
        CopyBinary.text(row.country, into: &out)
        CopyBinary.text(row.timeZone, into: &out)
        CopyBinary.text(row.language, into: &out)
        row.hash.withUnsafeBytes { CopyBinary.bytes($0, into: &out) }
        let keys = row.matchKeys
        CopyBinary.textArray(keys, into: &out)
        let group = keys.first ?? "ref:" + row.creditorReference
        CopyBinary.text(group, into: &out)
        ids.writeClaim(row: row.rowNumber, into: &out)
        ids.writeDebtorAndCase(group: group, currency: row.currency, into: &out)
    }

    static func rejectLine(creditor: [UInt8], placement: [UInt8], _ row: RejectedRow, into out: inout [UInt8]) {
        CopyBinary.row(fields: columnCount, into: &out)
        CopyBinary.uuid(creditor, into: &out)
        CopyBinary.uuid(placement, into: &out)
        CopyBinary.integer(Int32(row.rowNumber), into: &out)
        CopyBinary.text(row.field, into: &out)
        CopyBinary.text(row.reason, into: &out)
        for _ in 0..<(columnCount - 5) { CopyBinary.null(into: &out) }
    }
}
