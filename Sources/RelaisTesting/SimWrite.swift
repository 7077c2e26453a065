/// The kind of merge a tracked field has, which decides how the checker finds its value.
enum SimFieldKind { case replace, union, append }

/// A field write the checker follows: a unique token written to one field of one record; or a
/// delete of one record (`isDelete`, whose token appears nowhere).
struct SimWrite {
    var laptop: Int
    var token: String
    var collection: String
    var id: String
    var field: String
    var kind: SimFieldKind
    var acknowledged = false
    /// Lost with a laptop restored from a backup made before it, never acknowledged.
    var discarded = false
    /// Replaced by a later write (or a delete) whose author saw it.
    var superseded = false
    var rejected = false
    var isDelete: Bool = false
}
