#ifndef CRELAIS_SQLITE_SHIM_H
#define CRELAIS_SQLITE_SHIM_H
#include <sqlite3.h>

/// `SQLITE_TRANSIENT` is a macro casting -1 to a function pointer, which Swift cannot import.
static inline sqlite3_destructor_type crelais_sqlite_transient(void) {
    return (sqlite3_destructor_type)-1;
}

/// `sqlite3_db_config` is variadic, which Swift cannot call: switches the connection's triggers of
/// the main schema on (1) or off (0); returns the setting now in force, or -1 on error.
static inline int crelais_sqlite_enable_triggers(sqlite3 *db, int enable) {
    int now = -1;
    if (sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_TRIGGER, enable, &now) != SQLITE_OK) return -1;
    return now;
}

/// The write-ahead log hook of `crelais_sqlite_count_wal_frames`: stores the frame count.
static int crelais_sqlite_store_wal_frames(void *count, sqlite3 *db, const char *name, int frames) {
    (void)db;
    (void)name;
    *(int *)count = frames;
    return SQLITE_OK;
}

/// Replaces the connection's automatic checkpoints with a hook that stores, after each of its
/// commits, the number of frames in the write-ahead log into `*count` (a null `count`: no hook).
static inline void crelais_sqlite_count_wal_frames(sqlite3 *db, int *count) {
    if (count) {
        sqlite3_wal_hook(db, crelais_sqlite_store_wal_frames, count);
    } else {
        sqlite3_wal_hook(db, 0, 0);
    }
}
#endif
