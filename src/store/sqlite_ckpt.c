/* sqlite_ckpt.c - WAL checkpoints on a thread of their own.
 *
 * By default SQLite checkpoints inside the COMMIT that pushes the WAL past 1000 pages: the
 * committing thread copies those pages into the database file and syncs it before it can go
 * on. Here a hook on the writer connection hands that work to a checkpointer thread with its
 * own connection (a PASSIVE checkpoint runs beside new transactions), so a bulk load keeps
 * writing while the previous pages are copied, and a request's write does not pay for
 * somebody else's checkpoint.
 *
 *   writer commit --(wal >= 1000 pages)--> signal --> checkpointer: PASSIVE checkpoint
 *   writer commit --(wal >= MAX pages)---> wait for the checkpointer, checkpoint in place
 *
 * A PASSIVE checkpoint cannot start the WAL over while the writer keeps appending; the
 * second rule bounds the WAL: past MAX pages the committing writer finishes the checkpoint
 * itself (little is left to copy by then), so the next transaction writes the WAL from its
 * start again. Durability is unchanged (store.sqlite_synchronous: NORMAL or FULL); the
 * checkpoint syncs the database file before the WAL is reused. */
#include "store/sqlite_int.h"

#include "core/log.h"

#define CKPT_PAGES 1000 /* SQLite's own auto-checkpoint threshold */
#define MAX_PAGES 8000  /* 125 MiB of WAL with 16 KiB pages */

static int on_wal(void *ctx, sqlite3 *db, const char *name, int pages)
{
    md_sqlite_store *st = ctx;
    if (pages < CKPT_PAGES) return SQLITE_OK;
    pthread_mutex_lock(&st->ck_lock);
    if (pages >= MAX_PAGES) {
        while (st->ck_busy) pthread_cond_wait(&st->ck_idle, &st->ck_lock);
        st->ck_busy = 1;
        pthread_mutex_unlock(&st->ck_lock);
        sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
        pthread_mutex_lock(&st->ck_lock);
        st->ck_busy = 0;
        pthread_cond_broadcast(&st->ck_idle);
    } else {
        st->ck_pending = 1;
        pthread_cond_signal(&st->ck_wake);
    }
    pthread_mutex_unlock(&st->ck_lock);
    return SQLITE_OK;
}

static void *ckpt_main(void *arg)
{
    md_sqlite_store *st = arg;
    pthread_mutex_lock(&st->ck_lock);
    for (;;) {
        while (!st->ck_stop && (!st->ck_pending || st->ck_busy))
            pthread_cond_wait(st->ck_busy ? &st->ck_idle : &st->ck_wake, &st->ck_lock);
        if (st->ck_stop) break;
        st->ck_pending = 0;
        st->ck_busy = 1;
        pthread_mutex_unlock(&st->ck_lock);
        int log = 0, done = 0;
        int rc = sqlite3_wal_checkpoint_v2(st->ckdb, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &done);
        if (rc != SQLITE_OK && rc != SQLITE_BUSY)
            MD_WARN("store", "wal checkpoint failed: %s", sqlite3_errmsg(st->ckdb));
        pthread_mutex_lock(&st->ck_lock);
        st->ck_busy = 0;
        pthread_cond_broadcast(&st->ck_idle);
    }
    pthread_mutex_unlock(&st->ck_lock);
    return NULL;
}

int md_sqlite__ckpt_start(md_sqlite_store *st, sqlite3 *ckdb)
{
    st->ckdb = ckdb;
    pthread_mutex_init(&st->ck_lock, NULL);
    pthread_cond_init(&st->ck_wake, NULL);
    pthread_cond_init(&st->ck_idle, NULL);
    if (pthread_create(&st->ck_thread, NULL, ckpt_main, st) != 0) {
        pthread_mutex_destroy(&st->ck_lock);
        pthread_cond_destroy(&st->ck_wake);
        pthread_cond_destroy(&st->ck_idle);
        st->ckdb = NULL;
        return -1; /* the writer keeps SQLite's own checkpoints */
    }
    pthread_setname_np(st->ck_thread, "sqlite-ckpt");
    st->ck_running = 1;
    sqlite3_wal_hook(st->wdb, on_wal, st);
    return 0;
}

void md_sqlite__ckpt_stop(md_sqlite_store *st)
{
    if (!st->ck_running) return;
    sqlite3_wal_hook(st->wdb, NULL, NULL);
    pthread_mutex_lock(&st->ck_lock);
    st->ck_stop = 1;
    pthread_cond_broadcast(&st->ck_wake);
    pthread_cond_broadcast(&st->ck_idle);
    pthread_mutex_unlock(&st->ck_lock);
    pthread_join(st->ck_thread, NULL);
    pthread_mutex_destroy(&st->ck_lock);
    pthread_cond_destroy(&st->ck_wake);
    pthread_cond_destroy(&st->ck_idle);
    sqlite3_close(st->ckdb);
    st->ckdb = NULL;
    st->ck_running = 0;
}
