// The SQLite session extension on the peers' workload (docs/PERFORMANCE.md, "Side by side"), for
// relais-bench only. C, because Debian's sqlite3.h declares the session API only when
// SQLITE_ENABLE_SESSION and SQLITE_ENABLE_PREUPDATE_HOOK are defined where it is included, which a
// Swift module cannot do for the CRelaisSQLite header it shares with the product. This header
// therefore names no SQLite type: a peer database is an opaque handle with its own connection.
#ifndef CSESSIONPEER_H
#define CSESSIONPEER_H

/// Columns of the peer's `customers` table, in the order `relais_peer_insert` takes them: id, name,
/// email, phone, city, segment, relationship_level, lifetime_value, status, owner, notes, territory,
/// updated_at.
#define RELAIS_PEER_COLUMNS 13

typedef struct RelaisPeerDB RelaisPeerDB;

/// Creates a fresh database at `path` (removing any file there), WAL, synchronous=NORMAL, with the
/// `customers` table. NULL on failure.
RelaisPeerDB *relais_peer_open(const char *path);
void relais_peer_close(RelaisPeerDB *db);
/// Runs SQL; 0 on success.
int relais_peer_exec(RelaisPeerDB *db, const char *sql);
/// Inserts one row of RELAIS_PEER_COLUMNS texts (lifetime_value converted by the column's affinity).
int relais_peer_insert(RelaisPeerDB *db, const char *const *values);
/// The first column of the first row of a query, as an integer (-1 on failure).
long long relais_peer_scalar(RelaisPeerDB *db, const char *sql);
/// Starts a session recording changes to `customers`.
int relais_peer_session_start(RelaisPeerDB *db);
/// Ends the session: its changeset, deflated with zlib (level 6), in `*out` (free with
/// `relais_peer_free`), its raw and deflated sizes.
int relais_peer_session_finish(RelaisPeerDB *db, unsigned char **out, int *raw, int *deflated);
/// Inflates a changeset made by `relais_peer_session_finish` and applies it in one transaction;
/// a row changed on both sides keeps the later `updated_at` (last writer wins).
int relais_peer_apply(RelaisPeerDB *db, const unsigned char *deflated, int deflatedSize, int rawSize);
void relais_peer_free(void *pointer);

#endif
