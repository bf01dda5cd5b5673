import Crypto
import Foundation

/// The ids a staged row will have once merged, minted while the file streams in.
///
/// * A claim's id is time-ordered (RFC 9562 version 7): the placement's millisecond, then the
///   row number, then random bits. A placement's claims land at the right edge of the indexes,
///   in order, instead of all over them.
/// * A new debtor's id, and its case's, are derived from the row's identifier group, salted with
///   the placement id and random bytes of this upload (RFC 9562 version 8, same time prefix;
///   nothing about the debtor can be guessed back from them): every row of one debtor agrees on them
///   without a lookup, so the merge of rows that meet nothing already known needs no join. A
///   case in the creditor's currency has its debtor's id with the last bit flipped, so that
///   cases and their debtors sort alike.
///   Rows that turn out to belong to a known debtor are given that debtor by the merge instead.
struct PlacementIDs: Sendable {
    let millis: UInt64
    let salt: [UInt8]
    let defaultCurrency: String
    var state: UInt64

    init(placement: UUID, defaultCurrency: String, at date: Date = Date()) {
        millis = UInt64(max(0, date.timeIntervalSince1970 * 1000))
        // The placement id alone is no secret: with it, an id derived from `phone:+336…`
        // could be tested against guesses. Random bytes of this upload make ids agree within
        // the placement and reveal nothing.
        var generator = SystemRandomNumberGenerator()
        salt = withUnsafeBytes(of: placement.uuid) { Array($0) } + (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        self.defaultCurrency = defaultCurrency
        state = UInt64.random(in: .min ... .max)
    }

    /// A copy drawing other random bits, for rows encoded at the same time elsewhere.
    mutating func fork() -> PlacementIDs {
        var copy = self
        copy.state = random() ^ UInt64.random(in: .min ... .max)
        return copy
    }

    /// SplitMix64: uniqueness comes from the time prefix and the row number; these bits only
    /// keep ids from being guessed in sequence.
    mutating func random() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// The claim id of a row, as a binary COPY field.
    mutating func writeClaim(row: Int, into out: inout [UInt8]) {
        var id: (UInt64, UInt64) = (0, 0)
        withUnsafeMutableBytes(of: &id) { b in
            let r = UInt32(truncatingIfNeeded: row)
            let x = random()
            for i in 0..<6 { b[i] = UInt8(truncatingIfNeeded: millis >> (40 - 8 * UInt64(i))) }
            b[6] = 0x70 | UInt8(r >> 28)
            b[7] = UInt8(truncatingIfNeeded: r >> 20)
            b[8] = 0x80 | UInt8(truncatingIfNeeded: (r >> 14) & 0x3F)
            b[9] = UInt8(truncatingIfNeeded: r >> 6)
            b[10] = UInt8(truncatingIfNeeded: (r & 0x3F) << 2) | UInt8(truncatingIfNeeded: x & 0x03)
            for i in 11..<16 { b[i] = UInt8(truncatingIfNeeded: x >> (8 * UInt64(i - 9))) }
            Self.write(UnsafeRawBufferPointer(b), into: &out)
        }
    }

    /// The debtor id and case id of a row of identifier group `group` in `currency`, as two
    /// binary COPY fields: the debtor's from the first half of the group's digest, the case's
    /// from the second half or, in another currency than the creditor's, from a digest of the
    /// digest and the currency.
    func writeDebtorAndCase(group: String, currency: String, into out: inout [UInt8]) {
        var hasher = SHA256()
        hasher.update(data: salt)
        var group = group
        group.withUTF8 { hasher.update(bufferPointer: UnsafeRawBufferPointer($0)) }
        let digest = hasher.finalize()
        digest.withUnsafeBytes { d in
            writeShaped(UnsafeRawBufferPointer(rebasing: d[0..<16]), into: &out)
            if currency == defaultCurrency {
                // The debtor's id with its last bit flipped: cases then sort as their debtors
                // do, so writing cases in the order of their keys (the merge's insert, the
                // assigner's update) also writes `cases_one_live_per_debtor` in its order, not
                // at random places (a third of the assigner's statement, measured).
                var bytes = Array(d[0..<16])
                bytes[15] ^= 0x01
                bytes.withUnsafeBytes { writeShaped($0, into: &out) }
            } else {
                var h = SHA256()
                h.update(bufferPointer: d)
                h.update(data: Array(currency.utf8))
                h.finalize().withUnsafeBytes { writeShaped(UnsafeRawBufferPointer(rebasing: $0[0..<16]), into: &out) }
            }
        }
    }

    /// A version 8 id from 16 hash bytes: the time prefix, then the version and variant bits.
    private func writeShaped(_ hash: UnsafeRawBufferPointer, into out: inout [UInt8]) {
        var id: (UInt64, UInt64) = (0, 0)
        withUnsafeMutableBytes(of: &id) { b in
            b.copyMemory(from: hash)
            for i in 0..<6 { b[i] = UInt8(truncatingIfNeeded: millis >> (40 - 8 * UInt64(i))) }
            b[6] = 0x80 | (b[6] & 0x0F)
            b[8] = 0x80 | (b[8] & 0x3F)
            Self.write(UnsafeRawBufferPointer(b), into: &out)
        }
    }

    /// A binary COPY uuid field: its length, then the 16 bytes.
    static func write(_ id: UnsafeRawBufferPointer, into out: inout [UInt8]) {
        out += [0, 0, 0, 16]
        out.append(contentsOf: id)
    }
}
