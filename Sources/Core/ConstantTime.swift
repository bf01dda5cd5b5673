/// Comparison of secrets in time independent of where they differ.
public enum ConstantTime {
    public static func equal(_ x: some Collection<UInt8>, _ y: some Collection<UInt8>) -> Bool {
        guard x.count == y.count else { return false }
        var diff: UInt8 = 0
        for (a, b) in zip(x, y) { diff |= a ^ b }
        return diff == 0
    }

    public static func equal(_ a: String, _ b: String) -> Bool {
        equal(Array(a.utf8), Array(b.utf8))
    }
}
