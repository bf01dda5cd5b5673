import Core
import Crypto
import Foundation

/// RFC 6238 time-based one-time passwords (HMAC-SHA1, 6 digits, 30-second steps), as
/// authenticator apps compute them from a base32 secret.
public struct TOTP: Sendable {
    public let key: [UInt8]
    public static let step: Int64 = 30

    public init(key: [UInt8]) { self.key = key }

    /// A new 160-bit secret.
    public static func generateKey() -> [UInt8] { Tokens.randomBytes(20) }

    /// The time step containing `date`.
    public static func counter(at date: Date) -> Int64 { Int64(date.timeIntervalSince1970.rounded(.down)) / step }

    /// The code for a time step (RFC 4226 dynamic truncation).
    public func code(counter: Int64) -> String {
        var big = UInt64(bitPattern: counter).bigEndian
        let message = withUnsafeBytes(of: &big) { Array($0) }
        let mac = Array(HMAC<Insecure.SHA1>.authenticationCode(for: message, using: SymmetricKey(data: key)))
        let offset = Int(mac[mac.count - 1] & 0x0f)
        let value = (UInt32(mac[offset] & 0x7f) << 24) | (UInt32(mac[offset + 1]) << 16) | (UInt32(mac[offset + 2]) << 8) | UInt32(mac[offset + 3])
        let code = String(value % 1_000_000)
        return String(repeating: "0", count: 6 - code.count) + code
    }

    /// The matching step within one step of `date` (clock drift), or nil.
    /// Compare the result with the last step used to refuse replays.
    public func matchingCounter(_ code: String, at date: Date) -> Int64? {
        guard code.count == 6, code.allSatisfy(\.isASCII), code.allSatisfy(\.isNumber) else { return nil }
        let now = Self.counter(at: date)
        for candidate in [now, now - 1, now + 1] where ConstantTime.equal(self.code(counter: candidate), code) {
            return candidate
        }
        return nil
    }

    /// `otpauth://` URI for authenticator apps (no personal data: the label is the account ID).
    public func provisioningURI(account: String, issuer: String = "Relance") -> String {
        "otpauth://totp/\(issuer):\(account)?secret=\(Base32.encode(key))&issuer=\(issuer)&algorithm=SHA1&digits=6&period=30"
    }
}


/// RFC 4648 base32 without padding (what authenticator apps accept).
public enum Base32 {
    static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567".utf8)

    public static func encode(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        var buffer: UInt32 = 0
        var bits = 0
        for byte in bytes {
            buffer = (buffer << 8) | UInt32(byte)
            bits += 8
            while bits >= 5 {
                out.append(alphabet[Int((buffer >> UInt32(bits - 5)) & 31)])
                bits -= 5
            }
        }
        if bits > 0 { out.append(alphabet[Int((buffer << UInt32(5 - bits)) & 31)]) }
        return String(decoding: out, as: UTF8.self)
    }

    public static func decode(_ text: String) -> [UInt8]? {
        var out: [UInt8] = []
        var buffer: UInt32 = 0
        var bits = 0
        for char in text.uppercased().utf8 where char != UInt8(ascii: "=") {
            guard let index = alphabet.firstIndex(of: char) else { return nil }
            buffer = (buffer << 5) | UInt32(index)
            bits += 5
            if bits >= 8 {
                out.append(UInt8((buffer >> UInt32(bits - 8)) & 0xff))
                bits -= 8
            }
        }
        return out
    }
}
