import Foundation
@testable import Onboarding
import Postgres
import Testing

@Suite("Validators")
struct ValidatorTests {
    @Test func sirenSiretAndVAT() {
        #expect(Validators.siren("732 829 320") == "732829320")
        #expect(Validators.siren("732829321") == nil)
        #expect(Validators.siren("73282932") == nil)
        #expect(Validators.siret("732 829 320 00074") == "73282932000074")
        #expect(Validators.siret("73282932000075") == nil)
        #expect(Validators.siret("35600000000024") == "35600000000024")  // La Poste: digit sum divisible by 5
        #expect(Validators.vatNumber("FR 44 732829320") == "FR44732829320")
        #expect(Validators.vatNumber("FR45732829320") == nil)
        #expect(Validators.vatNumber("DE123456789") == "DE123456789")
    }

    @Test func iban() {
        #expect(Validators.iban("FR76 3000 6000 0112 3456 7890 189") == "FR7630006000011234567890189")
        #expect(Validators.iban("FR76 3000 6000 0112 3456 7890 188") == nil)
        #expect(Validators.iban("DE89 3704 0044 0532 0130 00") == "DE89370400440532013000")
        #expect(Validators.iban("GB82 WEST 1234 5698 7654 32") == "GB82WEST12345698765432")
        #expect(Validators.iban("FR76") == nil)
    }

    /// The byte-level path for ASCII text (every usual file) follows the same rules as the
    /// general one: a no-break space, which both ignore, sends a value down the general path.
    @Test func asciiFastPathsAgreeWithTheGeneralRules() {
        let amounts = [
            "1 234,56", "1.234,56", "1,234.56", "1234.5", "1234", "0,01", "12,345", "12,345", "-5,00", "+5,00", "+", "++5", ",5", ".",
            ",", "1,2,3", "1.2.3", "1,234,567", "1.234.567,89", "1,234.567.8", "1.2,3,4", "12'345.60", "abc", "1 234,567", "9999999999999",
            "99999999999999", "1.234,5x", "", " ", "5 ", "\t5,00\r\n", "0", "00,00", "1.234.5", "12,3456",
            "99999999999999999999", "10000000000000000000000000", "9999999999999,999", "1 000 000 000 000 000 000,00",
        ]
        for text in amounts {
            for exponent in [0, 2, 3] {
                #expect(Validators.amount(text, exponent: exponent) == Validators.amount(text + "\u{00A0}", exponent: exponent), "\(text) (\(exponent))")
            }
        }
        let phones = [
            "01 42 00 00 01", "06.12.34.56.78", "+33 6 12 34 56 78", "0033612345678", "(0)6-12-34-56-78", "0612", "+1234567", "+123456789012345",
            "+1234567890123456", "06 12 34 56 7x", "612345678", "00", "+", "0590 12 34 56",
        ]
        for text in phones {
            for country in ["FR", "GP", "MC", "BE", "ZZ"] {
                #expect(Validators.phone(text, country: country) == Validators.phone(text + "\u{00A0}", country: country), "\(text) (\(country))")
            }
        }
    }

    /// Free text must hold one line: any line break PostgreSQL, a spreadsheet or a letter
    /// template would honour is refused, whatever its encoding length.
    @Test func oneLineText() {
        for text in ["Boulangerie Martin", "a\tb", "Chloé", "Zoë — l’été", "\u{2027}", "\u{00A0}", "€", ""] {
            #expect(Validators.isOneLine(text), "\(text.debugDescription)")
        }
        for text in ["a\nb", "a\rb", "a\r\nb", "\u{0B}", "a\u{0}", "a\u{85}b", "a\u{2028}", "\u{2029}b", "\u{1F}"] {
            #expect(!Validators.isOneLine(text), "\(text.debugDescription)")
        }
    }

    @Test func amountsAsFrenchAndEnglishToolsWriteThem() {
        #expect(Validators.amount("1 234,56") == 123_456)
        #expect(Validators.amount("1\u{00A0}234,56 €") == 123_456)
        #expect(Validators.amount("1.234,56") == 123_456)
        #expect(Validators.amount("1,234.56") == 123_456)
        #expect(Validators.amount("1234.5") == 123_450)
        #expect(Validators.amount("1234") == 123_400)
        #expect(Validators.amount("0,01") == 1)
        #expect(Validators.amount("12,345") == nil)  // ambiguous
        #expect(Validators.amount("-5,00") == nil)
        #expect(Validators.amount("abc") == nil)
        #expect(Validators.amount("1,2,3.4") == nil || Validators.amount("1,2,3.4") == 12_340)
        #expect(Validators.amount("1500", exponent: 0) == 1500)
        #expect(Validators.amount("12.5", exponent: 0) == nil)
    }

    @Test func datesEmailsPhones() {
        #expect(Validators.date("31/12/2025") == CalendarDate(year: 2025, month: 12, day: 31))
        #expect(Validators.date("2025-12-31") == CalendarDate(year: 2025, month: 12, day: 31))
        #expect(Validators.date("1/2/2025") == CalendarDate(year: 2025, month: 2, day: 1))
        #expect(Validators.date("31/02/2025") == nil)
        #expect(Validators.date("12/31/25") == nil)
        #expect(Validators.email(" Jeanne.Dupont@Example.FR ") == "jeanne.dupont@example.fr")
        #expect(Validators.email("jeanne@") == nil)
        #expect(Validators.phone("06 12 34 56 78") == "+33612345678")
        #expect(Validators.phone("+33 6 12 34 56 78") == "+33612345678")
        #expect(Validators.phone("0033612345678") == "+33612345678")
        #expect(Validators.phone("12") == nil)
        #expect(Validators.phone("0692 12 34 56", country: "RE") == "+262692123456")
        #expect(Validators.phone("0690 12 34 56", country: "GP") == "+590690123456")
        #expect(Validators.phone("06 12 34 56 78", country: "DE") == nil)
        #expect(Validators.normalisedName("  Hélène  DE LA Tour-d'Auvergne ") == "helene de la tour d auvergne")
    }
}

@Suite("Binary COPY")
struct CopyBinaryTests {
    /// Dates go to PostgreSQL as days since 2000-01-01 (proleptic Gregorian), leap years included.
    @Test func datesAsDaysSince2000() throws {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let epoch = calendar.date(from: DateComponents(year: 2000, month: 1, day: 1))!
        #expect(CopyBinary.daysSince2000(CalendarDate(year: 2000, month: 1, day: 1)!) == 0)
        #expect(CopyBinary.daysSince2000(CalendarDate(year: 1999, month: 12, day: 31)!) == -1)
        #expect(CopyBinary.daysSince2000(CalendarDate(year: 2000, month: 3, day: 1)!) == 60)
        var day = calendar.date(from: DateComponents(year: 1890, month: 1, day: 1))!
        let end = calendar.date(from: DateComponents(year: 2110, month: 1, day: 1))!
        while day < end {
            let parts = calendar.dateComponents([.year, .month, .day], from: day)
            let date = try #require(CalendarDate(year: parts.year!, month: parts.month!, day: parts.day!))
            let expected = calendar.dateComponents([.day], from: epoch, to: day).day!
            if CopyBinary.daysSince2000(date) != Int32(expected) {
                Issue.record("\(date): \(CopyBinary.daysSince2000(date)), expected \(expected)")
                return
            }
            day = calendar.date(byAdding: .day, value: 1, to: day)!
        }
    }

    /// A text array field: dimensions, no NULL, element type text, one length-prefixed item each.
    @Test func textArrays() {
        var out: [UInt8] = []
        CopyBinary.textArray(["ab", "é"], into: &out)
        #expect(out == [0, 0, 0, 32, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 25, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2, 0x61, 0x62, 0, 0, 0, 2, 0xC3, 0xA9])
        out = []
        CopyBinary.textArray([], into: &out)
        #expect(out == [0, 0, 0, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 25])
    }
}
