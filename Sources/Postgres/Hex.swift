/// Bytes as lowercase hexadecimal: digests and keys shown or stored as text (migration
/// checksums, a placement file's SHA-256, login throttle keys, request IDs). One encoder for all
/// of them, in the lowest target every other one uses.
extension Sequence where Element == UInt8 {
    public var hexString: String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(underestimatedCount * 2)
        for byte in self {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
