/// The release of Relais these modules belong to, as `relais --version` and `relais-hub --version`
/// print it. The wire protocol (`/v1`) and the store schemas carry their own version numbers.
public enum RelaisVersion {
    /// The release, as semantic versioning writes it.
    public static let release = "0.9.0"
}
