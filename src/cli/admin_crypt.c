/*
 * Encryption at rest, operator commands (docs/privacy.md):
 *
 *   forge admin encrypt-existing      seals personal data written before encryption existed
 *                                     (`forge serve` does the same at start; this runs it alone)
 *   forge admin rotate-master-key     re-wraps every data key under a KEK derived from
 *                                     FORGE_MASTER_KEY_NEW, online and resumable
 *   forge admin keys-status           KEK version, key count, rotation state
 *
 * Exit 0 on success, 1 on failure, 2 on bad usage or configuration.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "core/crypt.h"
#include "store/keys.h"
#include "store/store.h"
#include "util/config.h"

static int open_store(const char *cmd, struct fg_config *cfg, struct store **st, int migrate)
{
    char err[1024];
    if (store_open(cfg, st, err, sizeof err) != FG_OK) {
        fprintf(stderr, "forge admin %s: %s\n", cmd, err);
        return 1;
    }
    int applied = 0;
    if (migrate && (*st)->ops->migrate(*st, &applied) != FG_OK) {
        fprintf(stderr, "forge admin %s: migrations failed\n", cmd);
        store_close(*st);
        *st = NULL;
        return 1;
    }
    return 0;
}

int cmd_admin_encrypt_existing(int argc, char **argv)
{
    int batch = 200;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--batch") == 0 && i + 1 < argc) {
            batch = (int)strtol(argv[++i], NULL, 10);
            if (batch < 1 || batch > 10000) {
                fprintf(stderr, "forge admin encrypt-existing: --batch must be 1..10000\n");
                return 2;
            }
        } else {
            fprintf(stderr, "usage: forge admin encrypt-existing [--batch N]\n");
            return 2;
        }
    }
    struct fg_config cfg;
    int rc = cli_load_config(&cfg);
    if (rc)
        return rc;
    struct store *st = NULL;
    rc = open_store("encrypt-existing", &cfg, &st, 1);
    if (rc == 0) {
        long long n = 0;
        if (fg_crypt_encrypt_existing(st, batch, &n) != FG_OK) {
            fprintf(stderr,
                    "forge admin encrypt-existing: stopped after %lld rows (resumable: run "
                    "again)\n",
                    n);
            rc = 1;
        } else {
            printf("forge admin encrypt-existing: %lld rows sealed\n", n);
        }
        store_close(st);
    }
    fg_config_free(&cfg);
    return rc;
}

int cmd_admin_rotate_master_key(int argc, char **argv)
{
    (void)argv;
    if (argc != 1) {
        fprintf(stderr, "usage: FORGE_MASTER_KEY=old FORGE_MASTER_KEY_NEW=new forge admin "
                        "rotate-master-key\n");
        return 2;
    }
    struct fg_config cfg;
    int rc = cli_load_config(&cfg);
    if (rc)
        return rc;
    const char *nk = getenv("FORGE_MASTER_KEY_NEW");
    if (!cfg.master_key || !cfg.master_key[0] || !nk || !*nk) {
        fprintf(stderr, "forge admin rotate-master-key: set FORGE_MASTER_KEY (the current key) "
                        "and FORGE_MASTER_KEY_NEW (64 hexadecimal characters); the development "
                        "key file cannot be rotated\n");
        fg_config_free(&cfg);
        return 2;
    }
    struct store *st = NULL;
    rc = open_store("rotate-master-key", &cfg, &st, 0);
    if (rc == 0) {
        long long n = 0;
        char err[512];
        if (fg_crypt_rotate(nk, &n, err, sizeof err) != 0) {
            fprintf(stderr, "forge admin rotate-master-key: %s (%lld keys re-wrapped)\n", err, n);
            rc = 1;
        } else {
            printf("forge admin rotate-master-key: %lld keys re-wrapped; KEK version %d is "
                   "current: set FORGE_MASTER_KEY to the new key (and drop "
                   "FORGE_MASTER_KEY_NEW) on every server\n",
                   n, fg_crypt_kek_version());
        }
        store_close(st);
    }
    fg_config_free(&cfg);
    return rc;
}

int cmd_admin_keys_status(int argc, char **argv)
{
    (void)argv;
    if (argc != 1) {
        fprintf(stderr, "usage: forge admin keys-status\n");
        return 2;
    }
    struct fg_config cfg;
    int rc = cli_load_config(&cfg);
    if (rc)
        return rc;
    struct store *st = NULL;
    rc = open_store("keys-status", &cfg, &st, 0);
    if (rc == 0) {
        struct store_keystore *ks = fg_crypt_keystore();
        long long n = 0;
        char v[32] = "?", to[32] = "0";
        ks->ops->count(ks, &n);
        ks->ops->meta_get(ks, "kek_version", v, sizeof v);
        if (ks->ops->meta_get(ks, "rotate_to", to, sizeof to) != FG_OK)
            snprintf(to, sizeof to, "0");
        printf("{\"kek_version\":%s,\"data_keys\":%lld,\"rotation_to\":%s}\n", v, n, to);
        store_close(st);
    }
    fg_config_free(&cfg);
    return rc;
}
