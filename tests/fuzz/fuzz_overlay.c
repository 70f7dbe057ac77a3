/*
 * Fuzz target `overlay` (src/core/overlay.c, src/sandbox/lua_sb.c): overlay manifests and
 * sources at registration. First byte even: the rest is a manifest (JSON) checked with
 * fg_overlay_manifest_check; odd: the rest is an overlay source compiled (not run) with
 * lua_sb_check_source, as registration does.
 * Invariants: an accepted manifest is normalised to a manifest that checks again to itself; a
 * refusal names a field under "manifest" with a message; a refused source has a message.
 */
#include <jansson.h>

#include "core/overlay.h"
#include "fuzz_common.h"
#include "sandbox/sandbox.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 256 * 1024)
        return 0;
    char field[128] = "", msg[512] = "";
    if (data[0] & 1) {
        if (lua_sb_check_source((const char *)data + 1, size - 1, msg, sizeof msg) != FG_OK)
            FUZZ_ASSERT(msg[0] != '\0' && memchr(msg, '\0', sizeof msg));
        return 0;
    }
    json_t *m = json_loadb((const char *)data + 1, size - 1, JSON_REJECT_DUPLICATES, NULL);
    if (!m)
        return 0;
    json_t *out = NULL;
    enum fg_err e = fg_overlay_manifest_check(m, &out, field, sizeof field, msg, sizeof msg);
    if (e == FG_OK) {
        FUZZ_ASSERT(out != NULL);
        json_t *again = NULL;
        FUZZ_ASSERT(fg_overlay_manifest_check(out, &again, field, sizeof field, msg, sizeof msg) ==
                    FG_OK);
        FUZZ_ASSERT(json_equal(out, again));
        char *txt = json_dumps(out, JSON_COMPACT);
        FUZZ_ASSERT(txt != NULL);
        free(txt);
        json_decref(again);
        json_decref(out);
    } else {
        FUZZ_ASSERT(e == FG_EINVAL);
        FUZZ_ASSERT(strncmp(field, "manifest", 8) == 0 && msg[0] != '\0');
    }
    json_decref(m);
    return 0;
}
