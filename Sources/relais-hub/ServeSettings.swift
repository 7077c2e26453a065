import Configuration
import Foundation
import RelaisHub
import SystemPackage

/// What `relais-hub serve` runs with. Each setting comes from its flag, else from its `RELAIS_*`
/// environment variable, else from the `--config` JSON file, else from its default
/// (Deploy/README.md, "Configuration"):
///
/// | flag | variable | file key | default |
/// |---|---|---|---|
/// | `--data` | `RELAIS_DATA` | `data` | (one of data and postgres) |
/// | `--postgres` | `RELAIS_POSTGRES` | `postgres` | |
/// | `--host` | `RELAIS_HOST` | `host` | `127.0.0.1` |
/// | `--port` | `RELAIS_PORT` | `port` | `7420` |
/// | `--tls-cert` | `RELAIS_TLS_CERT` | `tls.cert` | none |
/// | `--tls-key` | `RELAIS_TLS_KEY` | `tls.key` | none |
/// | `--purge-interval` | `RELAIS_PURGE_INTERVAL` | `purgeInterval` | `3600` |
/// | `--max-store-mb` | `RELAIS_MAX_STORE_MB` | `maxStoreMB` | none |
/// | `--header-timeout` | `RELAIS_HEADER_TIMEOUT` | `headerTimeout` | `10` (seconds) |
/// | `--body-timeout` | `RELAIS_BODY_TIMEOUT` | `bodyTimeout` | `60` (seconds) |
/// | `--idle-timeout` | `RELAIS_IDLE_TIMEOUT` | `idleTimeout` | `75` (seconds) |
/// | `--max-connections` | `RELAIS_MAX_CONNECTIONS` | `maxConnections` | `1000` |
/// | `--enroll-rate` | `RELAIS_ENROLL_RATE` | `enrollRate` | `10` (a minute; 0: none) |
/// | `--sign-in-rate` | `RELAIS_SIGN_IN_RATE` | `signInRate` | `10` (a minute; 0: none) |
/// | `--sync-rate` | `RELAIS_SYNC_RATE` | `syncRate` | `3000` (a minute; 0: none) |
/// | `--metrics-host` | `RELAIS_METRICS_HOST` | `metricsHost` | `127.0.0.1` |
/// | `--metrics-port` | `RELAIS_METRICS_PORT` | `metricsPort` | none: `/metrics` on the sync port |
/// | `--snapshots` | `RELAIS_SNAPSHOTS` | `snapshots` | `DATA/snapshots` with `--data`, `off` with `--postgres` |
/// | `--device-token-days` | `RELAIS_DEVICE_TOKEN_DAYS` | `deviceTokenDays` | `90` (0: device tokens never expire) |
/// | `--token-grace-days` | `RELAIS_TOKEN_GRACE_DAYS` | `tokenGraceDays` | `7` |
/// | `--warm-reports`, `--no-warm-reports` | `RELAIS_WARM_REPORTS` | `warmReports` | `true` |
struct ServeSettings {
    var location: HubStoreLocation
    var host: String
    var port: Int
    var tls: HubServer.TLSFiles?
    var purgeInterval: Int
    var maxStoreMB: Double?
    var edges: HubServer.Edges
    var metrics: HubServer.MetricsAddress?
    /// The folder of the snapshots served to bootstrapping laptops; nil: none.
    var snapshots: String?
    /// How long a device token works (nil: forever), and how long a replaced one still renews.
    var deviceTokenLifetimeMillis: UInt64?
    var replacedTokenGraceMillis: UInt64
    /// Whether the housekeeping reads the reports' customer file at start and after a purge.
    var warmReports: Bool

    /// The keys a configuration file may hold.
    static let fileKeys: Set<String> = [
        "data", "postgres", "host", "port", "tls", "purgeInterval", "maxStoreMB", "headerTimeout", "bodyTimeout",
        "idleTimeout", "maxConnections", "enrollRate", "signInRate", "syncRate", "metricsHost", "metricsPort",
        "snapshots", "deviceTokenDays", "tokenGraceDays", "warmReports",
    ]

    /// The flags as given (`nil`: not given).
    struct Flags {
        var data: String?
        var postgres: String?
        var host: String?
        var port: Int?
        var tlsCert: String?
        var tlsKey: String?
        var purgeInterval: Int?
        var maxStoreMB: Double?
        var headerTimeout: Double?
        var bodyTimeout: Double?
        var idleTimeout: Double?
        var maxConnections: Int?
        var enrollRate: Int?
        var signInRate: Int?
        var syncRate: Int?
        var metricsHost: String?
        var metricsPort: Int?
        var snapshots: String?
        var deviceTokenDays: Double? = nil
        var tokenGraceDays: Double? = nil
        var warmReports: Bool? = nil
        var config: String?
    }

    /// Resolves every setting; a malformed value, an unknown file key or an unreadable file is a
    /// ``CLIError`` with exit code 2 that names the setting and where it came from.
    static func resolve(_ flags: Flags, environment: [String: String]) async throws -> ServeSettings {
        var providers: [any ConfigProvider] = [
            EnvironmentVariablesProvider(environmentVariables: environment).prefixKeys(with: ["relais"])
        ]
        if let path = flags.config {
            try checkKeys(ofFile: path)
            do {
                providers.append(try await FileProvider<JSONSnapshot>(filePath: FilePath(path)))
            } catch {
                throw CLIError(message: "cannot read the configuration file \(path): \(error)", exitCode: 2)
            }
        }
        let reader = ConfigReader(providers: providers)
        let source = flags.config.map { "the environment or \($0)" } ?? "the environment"

        func string(_ flag: String?, _ key: ConfigKey) -> String? { flag ?? reader.string(forKey: key) }
        func number<T>(_ flag: T?, _ key: ConfigKey, _ read: (ConfigKey) -> T?, _ kind: String) throws -> T? {
            if let flag { return flag }
            if let value = read(key) { return value }
            if let text = reader.string(forKey: key) {
                throw CLIError(message: "\(key) in \(source) is not \(kind): \(text)", exitCode: 2)
            }
            return nil
        }

        let data = string(flags.data, "data")
        let postgres = string(flags.postgres, "postgres")
        let location: HubStoreLocation
        switch (data, postgres) {
        case (let data?, nil): location = .sqlite(folder: data)
        case (nil, let url?): location = .postgres(url: url)
        case (nil, nil):
            throw CLIError(
                message: "Give the hub's data folder with --data DIR (or RELAIS_DATA, or `data` in --config).",
                exitCode: 2)
        case (_?, _?): throw CLIError(message: "Give a data folder or a PostgreSQL URL, not both.", exitCode: 2)
        }
        let cert = string(flags.tlsCert, "tls.cert")
        let key = string(flags.tlsKey, "tls.key")
        if (cert == nil) != (key == nil) {
            throw CLIError(
                message: "Give both a TLS certificate and its key (--tls-cert, --tls-key), or neither.", exitCode: 2)
        }
        let defaults = HubServer.Edges()
        func seconds(_ flag: Double?, _ key: ConfigKey, _ fallback: Duration) throws -> Duration {
            guard let value = try number(flag, key, { reader.double(forKey: $0) }, "a number of seconds") else {
                return fallback
            }
            guard value > 0, value <= 86_400 else {
                throw CLIError(
                    message: "\(key) is a number of seconds above 0 and at most 86400, not \(value).", exitCode: 2)
            }
            return .milliseconds(Int64((value * 1000).rounded(.up)))
        }
        func count(_ flag: Int?, _ key: ConfigKey, _ fallback: Int, least: Int) throws -> Int {
            let value = try number(flag, key, { reader.int(forKey: $0) }, "a whole number") ?? fallback
            guard value >= least else {
                throw CLIError(message: "\(key) is a whole number of at least \(least), not \(value).", exitCode: 2)
            }
            return value
        }
        var edges = defaults
        edges.headerTimeout = try seconds(flags.headerTimeout, "headerTimeout", defaults.headerTimeout)
        edges.bodyTimeout = try seconds(flags.bodyTimeout, "bodyTimeout", defaults.bodyTimeout)
        edges.idleTimeout = try seconds(flags.idleTimeout, "idleTimeout", defaults.idleTimeout)
        edges.maxConnections = try count(flags.maxConnections, "maxConnections", defaults.maxConnections, least: 1)
        edges.enrollRate.perMinute = try count(
            flags.enrollRate, "enrollRate", defaults.enrollRate.perMinute, least: 0)
        edges.signInRate.perMinute = try count(
            flags.signInRate, "signInRate", defaults.signInRate.perMinute, least: 0)
        edges.syncRate.perMinute = try count(flags.syncRate, "syncRate", defaults.syncRate.perMinute, least: 0)
        let metricsHost = string(flags.metricsHost, "metricsHost")
        let metricsPort = try number(flags.metricsPort, "metricsPort", { reader.int(forKey: $0) }, "a whole number")
        if metricsHost != nil, metricsPort == nil {
            throw CLIError(message: "Give the metrics port (--metrics-port) with the metrics host.", exitCode: 2)
        }
        if let metricsPort, !(0...65535).contains(metricsPort) {
            throw CLIError(message: "The metrics port is 0 to 65535, not \(metricsPort).", exitCode: 2)
        }
        // The snapshots live beside a SQLite store; a PostgreSQL hub keeps them only where it is told.
        let snapshots: String?
        switch string(flags.snapshots, "snapshots") {
        case "off": snapshots = nil
        case let folder?: snapshots = folder
        case nil: snapshots = data.map { $0 + "/snapshots" }
        }
        func days(_ flag: Double?, _ key: ConfigKey, _ fallback: Double) throws -> Double {
            let value = try number(flag, key, { reader.double(forKey: $0) }, "a number of days") ?? fallback
            guard value >= 0, value <= 3650 else {
                throw CLIError(message: "\(key) is a number of days from 0 to 3650, not \(value).", exitCode: 2)
            }
            return value
        }
        let tokenDays = try days(flags.deviceTokenDays, "deviceTokenDays", 90)
        let graceDays = try days(flags.tokenGraceDays, "tokenGraceDays", 7)
        let dayMillis = 86_400_000.0
        let settings = ServeSettings(
            location: location, host: string(flags.host, "host") ?? "127.0.0.1",
            port: try number(flags.port, "port", { reader.int(forKey: $0) }, "a whole number") ?? 7420,
            tls: cert.map { HubServer.TLSFiles(certificatePath: $0, privateKeyPath: key!) },
            purgeInterval: try number(
                flags.purgeInterval, "purgeInterval", { reader.int(forKey: $0) }, "a whole number")
                ?? 3600,
            maxStoreMB: try number(flags.maxStoreMB, "maxStoreMB", { reader.double(forKey: $0) }, "a number"),
            edges: edges,
            metrics: metricsPort.map { HubServer.MetricsAddress(host: metricsHost ?? "127.0.0.1", port: $0) },
            snapshots: snapshots,
            deviceTokenLifetimeMillis: tokenDays == 0 ? nil : UInt64((tokenDays * dayMillis).rounded(.up)),
            replacedTokenGraceMillis: UInt64((graceDays * dayMillis).rounded(.up)),
            warmReports: try number(flags.warmReports, "warmReports", { reader.bool(forKey: $0) }, "true or false")
                ?? true)
        guard (0...65535).contains(settings.port) else {
            throw CLIError(message: "The port is 0 to 65535, not \(settings.port).", exitCode: 2)
        }
        guard settings.purgeInterval > 0 else {
            throw CLIError(message: "The purge interval is at least 1 second.", exitCode: 2)
        }
        if let mb = settings.maxStoreMB, !(mb > 0) {
            throw CLIError(message: "The store ceiling (max-store-mb) is a positive number.", exitCode: 2)
        }
        if let tls = settings.tls {
            // Read now, so that a missing or mismatched file stops the hub before it opens anything.
            for (key, path) in [("tls.cert", tls.certificatePath), ("tls.key", tls.privateKeyPath)]
            where !FileManager.default.isReadableFile(atPath: path) {
                throw CLIError(message: "\(key): cannot read \(path).", exitCode: 2)
            }
            do {
                _ = try TLSCertificates(files: tls)
            } catch {
                throw CLIError(message: "tls.cert, tls.key: \(error)", exitCode: 2)
            }
        }
        return settings
    }

    /// Refuses a file that is not a JSON object, or that holds a key no setting reads (a typo would
    /// otherwise be ignored in silence).
    private static func checkKeys(ofFile path: String) throws {
        guard let bytes = FileManager.default.contents(atPath: path) else {
            throw CLIError(message: "cannot read the configuration file \(path).", exitCode: 2)
        }
        guard let object = (try? JSONSerialization.jsonObject(with: bytes)) as? [String: Any] else {
            throw CLIError(message: "the configuration file \(path) is not a JSON object.", exitCode: 2)
        }
        var unknown = Set(object.keys).subtracting(fileKeys).sorted()
        if let tls = object["tls"] {
            guard let tls = tls as? [String: Any] else {
                throw CLIError(message: "`tls` in \(path) is an object: {\"cert\": FILE, \"key\": FILE}.", exitCode: 2)
            }
            unknown += Set(tls.keys).subtracting(["cert", "key"]).sorted().map { "tls.\($0)" }
        }
        guard unknown.isEmpty else {
            throw CLIError(
                message:
                    "\(path) holds unknown settings: \(unknown.joined(separator: ", ")) (known: \(fileKeys.sorted().joined(separator: ", "))).",
                exitCode: 2)
        }
    }
}
