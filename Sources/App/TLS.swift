import NIOSSL

/// The server's TLS settings: TLS 1.2 minimum and Mozilla's "intermediate" cipher list.
///
/// swift-nio-ssl's default server configuration still accepts TLS 1.0 and CBC suites.
/// BoringSSL fixes the TLS 1.3 suites (AES-GCM and ChaCha20-Poly1305), which are all allowed.
public enum TLSSettings {
    /// Mozilla intermediate (v5.7), TLS 1.2 part; BoringSSL has no DHE, so those are absent.
    public static let intermediateCipherSuites = [
        "ECDHE-ECDSA-AES128-GCM-SHA256",
        "ECDHE-RSA-AES128-GCM-SHA256",
        "ECDHE-ECDSA-AES256-GCM-SHA384",
        "ECDHE-RSA-AES256-GCM-SHA384",
        "ECDHE-ECDSA-CHACHA20-POLY1305",
        "ECDHE-RSA-CHACHA20-POLY1305",
    ].joined(separator: ":")

    /// - Throws: when the PEM files cannot be read or do not match.
    public static func serverConfiguration(certificatePath: String, keyPath: String) throws -> TLSConfiguration {
        let chain = try NIOSSLCertificate.fromPEMFile(certificatePath).map { NIOSSLCertificateSource.certificate($0) }
        let key = try NIOSSLPrivateKey(file: keyPath, format: .pem)
        var configuration = TLSConfiguration.makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(key))
        configuration.minimumTLSVersion = .tlsv12
        configuration.cipherSuites = intermediateCipherSuites
        configuration.applicationProtocols = ["http/1.1"]
        return configuration
    }
}
