import Foundation
import Postgres

/// Checks and normalisations for French business data. Pure functions: no I/O.
public enum Validators {
    /// Luhn checksum over ASCII digits.
    static func luhn(_ digits: [UInt8]) -> Bool {
        var sum = 0
        for (index, digit) in digits.reversed().enumerated() {
            var value = Int(digit)
            if index % 2 == 1 {
                value *= 2
                if value > 9 { value -= 9 }
            }
            sum += value
        }
        return sum % 10 == 0
    }

    static func digits(_ text: String) -> [UInt8]? {
        if text.utf8.allSatisfy({ $0 < 0x80 }) {
            var out: [UInt8] = []
            out.reserveCapacity(16)
            for b in text.utf8 where !(b == 0x20 || (b >= 0x09 && b <= 0x0D) || b == 0x2E || b == 0x2D) {
                guard b >= 0x30 && b <= 0x39 else { return nil }
                out.append(b - 0x30)
            }
            return out.isEmpty ? nil : out
        }
        let compact = text.filter { !$0.isWhitespace && $0 != "." && $0 != "-" }
        guard !compact.isEmpty, compact.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return compact.unicodeScalars.map { UInt8($0.value - 48) }
    }

    /// A SIREN (9 digits, Luhn), spaces allowed: returns the 9 digits or nil.
    public static func siren(_ text: String) -> String? {
        guard let d = digits(text), d.count == 9, luhn(d) else { return nil }
        return String(decoding: d.map { $0 + 0x30 }, as: UTF8.self)
    }

    /// A SIRET (14 digits, Luhn; La Poste's establishments use a digit-sum rule).
    public static func siret(_ text: String) -> String? {
        guard let d = digits(text), d.count == 14 else { return nil }
        let value = d.map(String.init).joined()
        if value.hasPrefix("356000000") {
            return d.reduce(0) { $0 + Int($1) } % 5 == 0 ? value : nil
        }
        return luhn(d) && siren(String(value.prefix(9))) != nil ? value : nil
    }

    /// An IBAN (ISO 13616, mod 97 = 1), spaces allowed: the compact upper-case IBAN or nil.
    public static func iban(_ text: String) -> String? {
        let compact = text.uppercased().filter { !$0.isWhitespace }
        guard (15...34).contains(compact.count), compact.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber) }),
            compact.prefix(2).allSatisfy(\.isLetter), compact.dropFirst(2).prefix(2).allSatisfy(\.isNumber)
        else { return nil }
        if compact.hasPrefix("FR") && compact.count != 27 { return nil }
        let rearranged = compact.dropFirst(4) + compact.prefix(4)
        var remainder = 0
        for char in rearranged {
            let value = char.isNumber ? Int(String(char))! : Int(char.asciiValue! - 55)
            remainder = (value >= 10 ? remainder * 100 + value : remainder * 10 + value) % 97
        }
        return remainder == 1 ? compact : nil
    }

    /// An EU VAT number, format only (FR: key + SIREN, key checked).
    public static func vatNumber(_ text: String) -> String? {
        let compact = text.uppercased().filter { !$0.isWhitespace }
        guard (4...14).contains(compact.count), compact.prefix(2).allSatisfy(\.isLetter),
            compact.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber) })
        else { return nil }
        if compact.hasPrefix("FR") {
            guard compact.count == 13, let sirenPart = siren(String(compact.suffix(9))), let key = Int(compact.dropFirst(2).prefix(2)) else {
                return nil
            }
            return (12 + 3 * (Int(sirenPart)! % 97)) % 97 == key ? compact : nil
        }
        return compact
    }

    /// ISO 4217 codes the platform handles, with their minor-unit exponent.
    public static let currencies: [String: Int] = [
        "EUR": 2, "USD": 2, "GBP": 2, "CHF": 2, "CAD": 2, "SEK": 2, "NOK": 2, "DKK": 2, "PLN": 2, "CZK": 2, "JPY": 0, "XPF": 0, "MAD": 2,
    ]

    /// ISO 3166-1 alpha-2 codes accepted for addresses and jurisdictions, with a default zone
    /// and language for debtors who give none.
    public static let countries: [String: (zone: String, language: String)] = [
        "FR": ("Europe/Paris", "fr"), "BE": ("Europe/Brussels", "fr"), "LU": ("Europe/Luxembourg", "fr"), "CH": ("Europe/Zurich", "fr"),
        "MC": ("Europe/Monaco", "fr"), "DE": ("Europe/Berlin", "de"), "ES": ("Europe/Madrid", "es"), "IT": ("Europe/Rome", "it"),
        "PT": ("Europe/Lisbon", "pt"), "NL": ("Europe/Amsterdam", "nl"), "GB": ("Europe/London", "en"), "IE": ("Europe/Dublin", "en"),
        "US": ("America/New_York", "en"), "CA": ("America/Toronto", "en"), "MA": ("Africa/Casablanca", "fr"), "RE": ("Indian/Reunion", "fr"),
        "GP": ("America/Guadeloupe", "fr"), "MQ": ("America/Martinique", "fr"), "GF": ("America/Cayenne", "fr"), "YT": ("Indian/Mayotte", "fr"),
        "PF": ("Pacific/Tahiti", "fr"), "NC": ("Pacific/Noumea", "fr"), "PL": ("Europe/Warsaw", "pl"), "AT": ("Europe/Vienna", "de"),
    ]

    /// Known IANA zones, read once (building a `TimeZone` per row is slow).
    static let timeZones: Set<String> = Set(TimeZone.knownTimeZoneIdentifiers)

    public static func isTimeZone(_ name: String) -> Bool {
        timeZones.contains(name) || (name.count <= 64 && TimeZone(identifier: name) != nil)
    }

    /// An amount as French (`1 234,56`, `1.234,56`) or English (`1,234.56`, `1234.56`) tools
    /// write it, in minor units of a currency with `exponent` decimals.
    /// - Returns: nil when unreadable, negative, or with more decimals than the currency has.
    public static func amount(_ text: String, exponent: Int = 2) -> Int? {
        if text.utf8.allSatisfy({ $0 < 0x80 }) { return asciiAmount(text, exponent: exponent) }
        var s = text.filter { !$0.isWhitespace && $0 != "\u{00A0}" && $0 != "\u{202F}" && $0 != "€" && $0 != "'" }
        guard !s.isEmpty, !s.hasPrefix("-") else { return nil }
        if s.hasPrefix("+") { s.removeFirst() }
        let commas = s.filter { $0 == "," }.count
        let dots = s.filter { $0 == "." }.count
        var integer = s
        var fraction = ""
        if commas > 0 && dots > 0 {
            // The last separator is the decimal one; the other groups thousands.
            let decimal: Character = s.lastIndex(of: ",")! > s.lastIndex(of: ".")! ? "," : "."
            let grouping: Character = decimal == "," ? "." : ","
            if s.filter({ $0 == decimal }).count != 1 { return nil }
            let parts = s.split(separator: decimal, omittingEmptySubsequences: false)
            integer = String(parts[0]).replacingOccurrences(of: String(grouping), with: "")
            fraction = String(parts[1])
        } else if commas == 1 || dots == 1 {
            let sep: Character = commas == 1 ? "," : "."
            let parts = s.split(separator: sep, omittingEmptySubsequences: false)
            // `1,234` or `1.234` with exactly three digits after could be grouping; amounts in
            // the files we take have decimals, so three digits after one separator is refused
            // as ambiguous unless the currency has three decimals.
            if parts[1].count == 3 && exponent != 3 { return nil }
            integer = String(parts[0])
            fraction = String(parts[1])
        } else if commas > 1 || dots > 1 {
            integer = s.replacingOccurrences(of: ",", with: "").replacingOccurrences(of: ".", with: "")
        }
        guard !integer.isEmpty || !fraction.isEmpty, integer.allSatisfy({ $0.isASCII && $0.isNumber }),
            fraction.allSatisfy({ $0.isASCII && $0.isNumber }), fraction.count <= exponent, integer.count <= 13
        else { return nil }
        let padded = fraction + String(repeating: "0", count: exponent - fraction.count)
        return Int((integer.isEmpty ? "0" : integer) + padded)
    }

    /// `amount` for ASCII text, on bytes (the same rules; the common case of every file).
    static func asciiAmount(_ text: String, exponent: Int) -> Int? {
        var s: [UInt8] = []
        s.reserveCapacity(text.utf8.count)
        for b in text.utf8 where !(b == 0x20 || (b >= 0x09 && b <= 0x0D) || b == 0x27) { s.append(b) }
        guard let head = s.first, head != 0x2D else { return nil }
        if head == 0x2B { s.removeFirst() }
        let comma: UInt8 = 0x2C, dot: UInt8 = 0x2E
        let commas = s.reduce(0) { $0 + ($1 == comma ? 1 : 0) }
        let dots = s.reduce(0) { $0 + ($1 == dot ? 1 : 0) }
        var integer = s[...]
        var fraction = s[s.endIndex...]
        var grouping: UInt8? = nil
        if commas > 0 && dots > 0 {
            let decimal = s.lastIndex(of: comma)! > s.lastIndex(of: dot)! ? comma : dot
            if (decimal == comma ? commas : dots) != 1 { return nil }
            let at = s.firstIndex(of: decimal)!
            integer = s[..<at]
            fraction = s[(at + 1)...]
            grouping = decimal == comma ? dot : comma
        } else if commas == 1 || dots == 1 {
            let at = s.firstIndex(of: commas == 1 ? comma : dot)!
            integer = s[..<at]
            fraction = s[(at + 1)...]
            if fraction.count == 3 && exponent != 3 { return nil }
        } else if commas > 1 || dots > 1 {
            grouping = commas > 1 ? comma : dot
        }
        var value = 0
        var integerDigits = 0
        for b in integer where b != grouping {
            guard b >= 0x30 && b <= 0x39 else { return nil }
            integerDigits += 1
            if integerDigits > 13 { return nil }  // before it could overflow
            value = value * 10 + Int(b - 0x30)
        }
        guard integerDigits > 0 || !fraction.isEmpty, integerDigits <= 13, fraction.count <= exponent else { return nil }
        for b in fraction {
            guard b >= 0x30 && b <= 0x39 else { return nil }
            value = value * 10 + Int(b - 0x30)
        }
        for _ in fraction.count..<exponent { value *= 10 }
        return value
    }

    /// No line break of any kind (C0 controls other than tab, U+0085, U+2028, U+2029), in one
    /// pass over the UTF-8 bytes.
    public static func isOneLine(_ text: String) -> Bool {
        var text = text
        return text.withUTF8 { bytes in
            var i = 0
            while i < bytes.count {
                let b = bytes[i]
                if b < 0x20 && b != 0x09 { return false }
                if b == 0xC2, i + 1 < bytes.count, bytes[i + 1] == 0x85 { return false }  // U+0085
                if b == 0xE2, i + 2 < bytes.count, bytes[i + 1] == 0x80, bytes[i + 2] == 0xA8 || bytes[i + 2] == 0xA9 { return false }
                i += 1
            }
            return true
        }
    }

    /// Leading and trailing white space removed; ASCII fast path (most fields need nothing).
    public static func trimmed(_ text: String) -> String {
        let bytes = text.utf8
        guard let first = bytes.first, let last = bytes.last else { return text }
        func isSpace(_ b: UInt8) -> Bool { b == 0x20 || (b >= 0x09 && b <= 0x0D) }
        if !isSpace(first) && !isSpace(last) && first < 0x80 && last < 0x80 { return text }
        // Accented last letters (`Chloé`) are common: look at the scalars at both ends first.
        if let head = text.unicodeScalars.first, let tail = text.unicodeScalars.last,
            !head.properties.isWhitespace && !tail.properties.isWhitespace
        {
            return text
        }
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// `dd/mm/yyyy`, `dd-mm-yyyy`, `dd.mm.yyyy` or ISO `yyyy-mm-dd`.
    public static func date(_ text: String) -> CalendarDate? {
        // Fast path on bytes for the two usual forms, exactly 10 characters.
        let b = Array(text.utf8)
        if b.count == 10 {
            func digits(_ range: Range<Int>) -> Int? {
                var v = 0
                for i in range {
                    guard b[i] >= 0x30 && b[i] <= 0x39 else { return nil }
                    v = v * 10 + Int(b[i] - 0x30)
                }
                return v
            }
            if b[4] == 0x2D && b[7] == 0x2D, let y = digits(0..<4), let m = digits(5..<7), let d = digits(8..<10) {
                return CalendarDate(year: y, month: m, day: d)
            }
            if b[2] == b[5], b[2] == 0x2F || b[2] == 0x2D || b[2] == 0x2E, let d = digits(0..<2), let m = digits(3..<5), let y = digits(6..<10) {
                return CalendarDate(year: y, month: m, day: d)
            }
        }
        let t = text.trimmingCharacters(in: .whitespaces)
        if let iso = CalendarDate(iso: t.prefix(10)), t.count == 10 || t.dropFirst(10).hasPrefix("T") { return iso }
        let parts = t.split(whereSeparator: { $0 == "/" || $0 == "-" || $0 == "." })
        guard parts.count == 3, parts[0].count <= 2, parts[1].count <= 2, parts[2].count == 4,
            let d = Int(parts[0]), let m = Int(parts[1]), let y = Int(parts[2])
        else { return nil }
        return CalendarDate(year: y, month: m, day: d)
    }

    /// A plausible email, lower-cased: one `@`, a dotted domain, no spaces, `,` or `;`.
    public static func email(_ text: String) -> String? {
        let e = trimmed(text).lowercased()
        let b = Array(e.utf8)
        guard b.count <= 254, let at = b.firstIndex(of: 0x40), at > 0, at <= 64, b.lastIndex(of: 0x40) == at else { return nil }
        let domain = b[(at + 1)...]
        guard domain.contains(0x2E), domain.first != 0x2E, domain.last != 0x2E,
            !b.contains(where: { $0 <= 0x20 || $0 == 0x2C || $0 == 0x3B })
        else { return nil }
        return e
    }

    /// Country calling codes of France and its overseas departments, for national numbers.
    static let callingCodes: [String: String] = ["FR": "33", "MC": "377", "RE": "262", "YT": "262", "GP": "590", "MQ": "596", "GF": "594"]

    /// A phone number normalised to E.164 (`+33612345678`). A national number (10 digits
    /// starting with 0) takes the calling code of the debtor's country (+33, +262 for La
    /// Réunion, ...); other countries' numbers must be written in international form.
    public static func phone(_ text: String, country: String = "FR") -> String? {
        if text.utf8.allSatisfy({ $0 < 0x80 }) { return asciiPhone(text, country: country) }
        var t = text.filter { !$0.isWhitespace && $0 != "." && $0 != "-" && $0 != "(" && $0 != ")" }
        if t.hasPrefix("00") { t = "+" + t.dropFirst(2) }
        if !t.hasPrefix("+") {
            guard t.hasPrefix("0"), t.count == 10, let code = callingCodes[country], country != "MC" else { return nil }
            t = "+" + code + t.dropFirst()
        }
        let digits = t.dropFirst()
        guard (8...15).contains(digits.count), digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return t
    }

    /// `phone` for ASCII text, on bytes (the same rules).
    static func asciiPhone(_ text: String, country: String) -> String? {
        var t: [UInt8] = []
        t.reserveCapacity(text.utf8.count + 4)
        for b in text.utf8 where !(b == 0x20 || (b >= 0x09 && b <= 0x0D) || b == 0x2E || b == 0x2D || b == 0x28 || b == 0x29) { t.append(b) }
        if t.count >= 2 && t[0] == 0x30 && t[1] == 0x30 { t.replaceSubrange(0..<2, with: [0x2B]) }
        if t.first != 0x2B {
            guard t.first == 0x30, t.count == 10, let code = callingCodes[country], country != "MC" else { return nil }
            t.replaceSubrange(0..<1, with: [0x2B] + Array(code.utf8))
        }
        let digits = t.dropFirst()
        guard (8...15).contains(digits.count), digits.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
        return String(decoding: t, as: UTF8.self)
    }

    /// Lower-case, accents removed, spaces collapsed: for matching names.
    public static func normalisedName(_ text: String) -> String {
        text.folding(options: [.diacriticInsensitive, .caseInsensitive, .widthInsensitive], locale: Locale(identifier: "fr_FR"))
            .lowercased()
            .split(whereSeparator: { !$0.isLetter && !$0.isNumber })
            .joined(separator: " ")
    }
}
