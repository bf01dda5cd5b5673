import Core
import HTTPTypes

/// The `Idempotency-Key` request header (Stripe's semantics; ADR 0009) and the header that marks
/// a replayed answer, with the one rule for a valid key. Used by the idempotency middleware and
/// by the placement upload, which keeps its own record of keys (a placement outlives 24 hours).
public enum IdempotencyKey {
    public static let header = HTTPField.Name("Idempotency-Key")!
    public static let replayed = HTTPField.Name("Idempotent-Replayed")!

    /// The request's key, if it has one.
    /// - Throws: `Problem` 422 naming the header when the key is not 1 to 255 visible ASCII
    ///   characters.
    public static func of(_ fields: HTTPFields) throws -> String? {
        guard let key = fields[header] else { return nil }
        guard (1...255).contains(key.utf8.count), key.unicodeScalars.allSatisfy({ $0.value >= 0x21 && $0.value <= 0x7e }) else {
            throw Problem.validation([.init(field: "Idempotency-Key", reason: "must be 1 to 255 visible ASCII characters")])
        }
        return key
    }
}
