import Core
import HummingbirdBcrypt
import NIOPosix

/// Password rules (OWASP ASVS level 2): at least 12 characters, at most 128, not a common
/// password, not built from the account's email.
public enum PasswordPolicy {
    public static let minimumLength = 12
    public static let maximumLength = 128

    /// - Returns: why the password is refused, or nil when it is acceptable.
    public static func problem(_ password: String, email: String) -> String? {
        let length = password.count
        if length < minimumLength { return "must be at least \(minimumLength) characters" }
        if length > maximumLength { return "must be at most \(maximumLength) characters" }
        let lowered = password.lowercased()
        if commonPasswords.contains(lowered) { return "is too common" }
        if Set(lowered).count < 4 { return "is too repetitive" }
        let local = email.lowercased().split(separator: "@").first.map(String.init) ?? ""
        if local.count >= 4 && lowered.contains(local) { return "must not contain the email address" }
        return nil
    }

    /// A small built-in list of passwords of 12+ characters seen most in breaches.
    static let commonPasswords: Set<String> = [
        "123456789012", "1234567890123", "12345678901234", "123456789123", "111111111111", "000000000000",
        "qwertyuiopas", "qwertyuiop123", "qwerty123456", "1q2w3e4r5t6y", "1qaz2wsx3edc", "zaq12wsxcde3",
        "password1234", "password12345", "password123!", "passwordpassword", "p@ssw0rd1234", "passw0rd1234",
        "motdepasse123", "motdepasse1234", "azertyuiop12", "azertyuiop123", "azerty123456", "azertyuiopqs",
        "iloveyou1234", "princess1234", "sunshine1234", "football1234", "baseball1234", "superman1234",
        "welcome12345", "welcome123456", "changeme1234", "letmein12345", "administrator", "administrator1",
        "qwertyqwerty", "abcdefghijkl", "abc123abc123", "abcd1234abcd", "aaaaaaaaaaaa", "123123123123",
        "987654321098", "monkeymonkey", "dragondragon", "trustno1trustno1", "1234qwerasdf", "asdfghjkl123",
        "soleil123456", "bonjour12345", "marseille123", "chocolat1234", "doudou123456", "loulou123456",
        "recouvrement", "recouvrement1", "relance12345", "relance123456", "correcthorsebatterystaple",
    ]
}

/// bcrypt at cost 12, run on NIO's blocking thread pool (each hash takes about 0.25 s).
public enum PasswordHasher {
    public static let cost: UInt8 = 12

    public static func hash(_ password: String) async throws -> String {
        try await NIOThreadPool.singleton.runIfActive { Bcrypt.hash(password, cost: cost) }
    }

    public static func verify(_ password: String, hash: String) async throws -> Bool {
        try await NIOThreadPool.singleton.runIfActive { Bcrypt.verify(password, hash: hash) }
    }

    /// A real hash of a random password: verifying an unknown account against it takes as
    /// long as a real check, so timing does not tell unknown emails from wrong passwords.
    static let decoy: String = Bcrypt.hash(Tokens.random(byteCount: 24), cost: cost)
}
