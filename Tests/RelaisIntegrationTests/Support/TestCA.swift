import Foundation
import RelaisTesting
import Testing

/// A CA of the firm's own, made with openssl as Deploy/README.md shows.
enum TestCA {
    /// A CA and a certificate for `localhost` and 127.0.0.1 that it signed, as an office would make
    /// them with openssl: `ca.pem` (what laptops trust), `hub.pem` and `hub-key.pem` (for nginx).
    static func make(in folder: String) async throws -> (certificate: String, key: String) {
        let openssl = try #require(Services.opensslPath)
        let steps: [[String]] = [
            [
                "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
                "-subj", "/CN=Relais test CA", "-keyout", "ca-key.pem", "-out", "ca.pem",
                "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
            ],
            [
                "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=localhost",
                "-keyout", "hub-key.pem", "-out", "hub.csr",
            ],
            [
                "x509", "-req", "-in", "hub.csr", "-CA", "ca.pem", "-CAkey", "ca-key.pem", "-CAcreateserial",
                "-days", "2", "-out", "hub.pem", "-extfile", "hub.ext",
            ],
        ]
        try "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n"
            .write(toFile: folder + "/hub.ext", atomically: true, encoding: .utf8)
        for arguments in steps {
            let result = try await ChildProcess.run(
                URL(fileURLWithPath: openssl), arguments, currentDirectory: URL(fileURLWithPath: folder))
            try #require(result.status == 0, "openssl \(arguments.joined(separator: " ")): \(result.stderr)")
        }
        return (certificate: folder + "/hub.pem", key: folder + "/hub-key.pem")
    }
}
