import Crypto
import Foundation

/// Random secrets and their stored digests.
public enum Tokens {
    public static func randomBytes(_ count: Int) -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
    }

    /// URL-safe base64 without padding of `byteCount` random bytes.
    public static func random(byteCount: Int) -> String {
        base64URL(randomBytes(byteCount))
    }

    public static func base64URL(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    public static func sha256(_ text: String) -> [UInt8] {
        Array(SHA256.hash(data: Array(text.utf8)))
    }
}

/// Seals small secrets (TOTP keys) with AES-256-GCM under `RELANCE_DATA_KEY`, so a copy of
/// the database alone does not yield second factors.
public struct SecretBox: Sendable {
    private let keyBytes: [UInt8]
    var key: SymmetricKey { SymmetricKey(data: keyBytes) }

    public struct InvalidKey: Error, CustomStringConvertible {
        public let description = "RELANCE_DATA_KEY must be 32 bytes, base64-encoded (openssl rand -base64 32)"
    }

    /// - Parameter base64Key: 32 bytes, base64.
    public init(base64Key: String) throws {
        guard let data = Data(base64Encoded: base64Key), data.count == 32 else { throw InvalidKey() }
        self.keyBytes = Array(data)
    }

    public func seal(_ plaintext: [UInt8]) throws -> [UInt8] {
        Array(try AES.GCM.seal(plaintext, using: key).combined!)
    }

    public func open(_ sealed: [UInt8]) throws -> [UInt8] {
        Array(try AES.GCM.open(AES.GCM.SealedBox(combined: sealed), using: key))
    }
}
