/* Embedded SQL migrations (generated from src/store/<backend>/migrations/NNN_name.sql). */
#ifndef STORE_MIGRATIONS_H
#define STORE_MIGRATIONS_H

struct fg_migration {
    const char *name; /* file name, e.g. "001_init.sql"; NULL terminates the list */
    const char *sql;
};

extern const struct fg_migration fg_sqlite_migrations[];
extern const struct fg_migration fg_pg_migrations[];

#endif
