/*
 * `forge admin audit-verify [--json]`: walks the audit hash chain of the configured store.
 * Exit 0 when intact, 1 when an entry was edited, removed or inserted (or the log could not be
 * read), 2 on bad usage or configuration.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "core/audit.h"
#include "store/store.h"
#include "util/config.h"

int cmd_admin_audit_verify(int argc, char **argv)
{
    int as_json = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            as_json = 1;
        } else {
            fprintf(stderr, "usage: forge admin audit-verify [--json]\n");
            return 2;
        }
    }
    struct fg_config cfg;
    int rc = cli_load_config(&cfg);
    if (rc)
        return rc;
    char err[512];
    struct store *st = NULL;
    if (store_open(&cfg, &st, err, sizeof err) != FG_OK) {
        fprintf(stderr, "forge admin audit-verify: %s\n", err);
        fg_config_free(&cfg);
        return 1;
    }
    struct fg_audit_verify v;
    enum fg_err e = fg_audit_verify(st, &v);
    store_close(st);
    fg_config_free(&cfg);
    if (e != FG_OK) {
        fprintf(stderr, "forge admin audit-verify: cannot read the audit log (%s)\n",
                fg_err_name(e));
        return 1;
    }
    if (as_json) {
        json_t *o = json_object();
        json_object_set_new(o, "valid", json_boolean(v.valid));
        json_object_set_new(o, "entries", json_integer(v.entries));
        json_object_set_new(o, "first_bad_seq",
                            v.valid ? json_null() : json_integer(v.first_bad_seq));
        json_object_set_new(o, "reason", v.valid ? json_null() : json_string(v.reason));
        json_object_set_new(o, "head_seq", json_integer(v.head_seq));
        json_object_set_new(o, "head_hash", json_string(v.head_hash));
        char *s = json_dumps(o, JSON_COMPACT);
        printf("%s\n", s);
        free(s);
        json_decref(o);
    } else if (v.valid) {
        printf("audit log intact: %lld entries, head seq %lld hash %s\n", v.entries, v.head_seq,
               v.head_hash);
    } else {
        printf("audit log TAMPERED: first bad entry seq %lld (%s); %lld entries present, "
               "recorded head seq %lld\n",
               v.first_bad_seq, v.reason, v.entries, v.head_seq);
    }
    return v.valid ? 0 : 1;
}
