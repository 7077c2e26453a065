// The session extension side of relais-bench's `peers` step (CSessionPeer.h).
#define SQLITE_ENABLE_SESSION 1
#define SQLITE_ENABLE_PREUPDATE_HOOK 1
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "CSessionPeer.h"

struct RelaisPeerDB {
    sqlite3 *db;
    sqlite3_stmt *insert;
    sqlite3_session *session;
};

enum { UPDATED_AT = 12 };

RelaisPeerDB *relais_peer_open(const char *path) {
    const char *suffixes[] = {"", "-wal", "-shm"};
    char file[4096];
    for (int i = 0; i < 3; i++) {
        snprintf(file, sizeof file, "%s%s", path, suffixes[i]);
        unlink(file);
    }
    RelaisPeerDB *peer = calloc(1, sizeof *peer);
    if (!peer || sqlite3_open(path, &peer->db) != SQLITE_OK) {
        relais_peer_close(peer);
        return NULL;
    }
    const char *setup =
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
        "CREATE TABLE customers(id TEXT PRIMARY KEY NOT NULL, name TEXT, email TEXT, phone TEXT, city TEXT,"
        " segment TEXT, relationship_level TEXT, lifetime_value REAL, status TEXT, owner TEXT, notes TEXT,"
        " territory TEXT, updated_at TEXT NOT NULL)";
    if (sqlite3_exec(peer->db, setup, NULL, NULL, NULL) != SQLITE_OK
        || sqlite3_prepare_v2(peer->db, "INSERT INTO customers VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13)",
                              -1, &peer->insert, NULL) != SQLITE_OK) {
        relais_peer_close(peer);
        return NULL;
    }
    return peer;
}

void relais_peer_close(RelaisPeerDB *peer) {
    if (!peer) return;
    if (peer->session) sqlite3session_delete(peer->session);
    sqlite3_finalize(peer->insert);
    sqlite3_close(peer->db);
    free(peer);
}

int relais_peer_exec(RelaisPeerDB *peer, const char *sql) {
    return sqlite3_exec(peer->db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : 1;
}

int relais_peer_insert(RelaisPeerDB *peer, const char *const *values) {
    for (int i = 0; i < RELAIS_PEER_COLUMNS; i++) {
        sqlite3_bind_text(peer->insert, i + 1, values[i], -1, SQLITE_TRANSIENT);
    }
    int rc = sqlite3_step(peer->insert);
    sqlite3_reset(peer->insert);
    return rc == SQLITE_DONE ? 0 : 1;
}

long long relais_peer_scalar(RelaisPeerDB *peer, const char *sql) {
    sqlite3_stmt *statement;
    if (sqlite3_prepare_v2(peer->db, sql, -1, &statement, NULL) != SQLITE_OK) return -1;
    long long value = sqlite3_step(statement) == SQLITE_ROW ? sqlite3_column_int64(statement, 0) : -1;
    sqlite3_finalize(statement);
    return value;
}

int relais_peer_session_start(RelaisPeerDB *peer) {
    if (peer->session) return 1;
    if (sqlite3session_create(peer->db, "main", &peer->session) != SQLITE_OK) return 1;
    return sqlite3session_attach(peer->session, "customers") == SQLITE_OK ? 0 : 1;
}

int relais_peer_session_finish(RelaisPeerDB *peer, unsigned char **out, int *raw, int *deflated) {
    int size = 0;
    void *changeset = NULL;
    int rc = peer->session ? sqlite3session_changeset(peer->session, &size, &changeset) : SQLITE_MISUSE;
    if (peer->session) sqlite3session_delete(peer->session);
    peer->session = NULL;
    if (rc != SQLITE_OK) return 1;
    uLongf bound = compressBound((uLong)size);
    *out = malloc(bound);
    if (!*out || compress2(*out, &bound, changeset, (uLong)size, 6) != Z_OK) {
        sqlite3_free(changeset);
        return 1;
    }
    sqlite3_free(changeset);
    *raw = size;
    *deflated = (int)bound;
    return 0;
}

/// Last writer wins on `updated_at`; a row deleted or missing here stays so.
static int conflict(void *context, int kind, sqlite3_changeset_iter *iterator) {
    (void)context;
    if (kind == SQLITE_CHANGESET_DATA) {
        sqlite3_value *incoming = NULL, *local = NULL;
        if (sqlite3changeset_new(iterator, UPDATED_AT, &incoming) != SQLITE_OK || !incoming) {
            return SQLITE_CHANGESET_OMIT;
        }
        if (sqlite3changeset_conflict(iterator, UPDATED_AT, &local) != SQLITE_OK || !local) {
            return SQLITE_CHANGESET_REPLACE;
        }
        const char *a = (const char *)sqlite3_value_text(incoming);
        const char *b = (const char *)sqlite3_value_text(local);
        return a && b && strcmp(a, b) > 0 ? SQLITE_CHANGESET_REPLACE : SQLITE_CHANGESET_OMIT;
    }
    if (kind == SQLITE_CHANGESET_CONFLICT) return SQLITE_CHANGESET_REPLACE;
    return SQLITE_CHANGESET_OMIT;
}

int relais_peer_apply(RelaisPeerDB *peer, const unsigned char *deflated, int deflatedSize, int rawSize) {
    unsigned char *changeset = malloc(rawSize > 0 ? (size_t)rawSize : 1);
    uLongf size = (uLongf)rawSize;
    if (!changeset || uncompress(changeset, &size, deflated, (uLong)deflatedSize) != Z_OK) {
        free(changeset);
        return 1;
    }
    int rc = sqlite3changeset_apply(peer->db, (int)size, changeset, NULL, conflict, NULL);
    free(changeset);
    return rc == SQLITE_OK ? 0 : 1;
}

void relais_peer_free(void *pointer) { free(pointer); }
